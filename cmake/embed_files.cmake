# pmesh_embed_files(TARGET SYMBOL GLOBS...): a static library TARGET whose
# one source defines SYMBOL(), the text of the files under the current
# source folder that match GLOBS (see embed.cmake), regenerated when they change.
function(pmesh_embed_files target symbol)
  set(patterns)
  foreach(g IN LISTS ARGN)
    list(APPEND patterns "${CMAKE_CURRENT_SOURCE_DIR}/${g}")
  endforeach()
  file(GLOB_RECURSE files CONFIGURE_DEPENDS ${patterns})
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${symbol}.cc")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -DROOT=${CMAKE_CURRENT_SOURCE_DIR} -DOUTPUT=${out}
            -DSYMBOL=${symbol} -P ${CMAKE_SOURCE_DIR}/cmake/embed.cmake
    DEPENDS ${files} ${CMAKE_SOURCE_DIR}/cmake/embed.cmake
    COMMENT "Embedding ${symbol}")
  set(${target}_EMBEDDED "${out}" PARENT_SCOPE)
endfunction()
