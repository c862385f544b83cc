schema: '1.2'
contents:
  - ../../authorization/core.fga
  - httpbins.fga
