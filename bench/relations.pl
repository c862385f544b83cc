% bench/relations.rules for SWI-Prolog 9: the same program, its input
% predicates incremental and `membership` (the rules' member) an
% incremental table, so that a change of the input invalidates the table
% and its next call brings it up to date. Driven by
% bench/relations_bench.cc:
%
%   swipl -q relations.pl -- FACTS SAMPLES
%
% FACTS (read as data, not consulted: hence `--`) holds o(User, Account)
% and p(Child, Parent) terms. Prints one JSON object: the seconds to
% assert the facts and to materialize the table, and per sample to add and
% then remove one leaf account (owner and parent), each followed by
% reading the relation again; the member count; VmHWM.
:- initialization(main, main).

:- dynamic owner/2 as incremental.
:- dynamic parent/2 as incremental.
:- table membership/2 as incremental.

membership(U, A) :- owner(U, A).
membership(U, A) :- membership(U, P), parent(A, P).

load(File) :-
    setup_call_cleanup(open(File, read, In), load_terms(In), close(In)).
load_terms(In) :-
    read_term(In, T, []),
    (   T == end_of_file -> true
    ;   fact(T), load_terms(In)
    ).
fact(o(U, A)) :- assertz(owner(U, A)).
fact(p(C, P)) :- assertz(parent(C, P)).

count(N) :- aggregate_all(count, membership(_, _), N).

seconds(Goal, S) :-
    statistics(cputime, _), get_time(T0), call(Goal), get_time(T1), S is T1 - T0.

% One sample: a leaf under Parent, added (its owner and parent) and then
% removed, each followed by reading the relation again.
sample(Parent, I, Add, Del) :-
    format(atom(A), 'bench-~w', [I]),
    seconds((assertz(owner(newcomer, A)), assertz(parent(A, Parent)), count(_)), Add),
    seconds((retract(owner(newcomer, A)), retract(parent(A, Parent)), count(_)), Del).

median(L, M) :- msort(L, S), length(S, N), I is N // 2, nth0(I, S, M).

hwm_kib(K) :-
    read_file_to_string('/proc/self/status', S, []),
    split_string(S, "\n", "", Lines),
    member_line(Lines, K).
member_line([L|Ls], K) :-
    (   sub_string(L, 0, _, _, "VmHWM:")
    ->  split_string(L, " \t", " \t", Parts), exclude(==(""), Parts, [_, V|_]), number_string(K, V)
    ;   member_line(Ls, K)
    ).

main :-
    current_prolog_flag(argv, [File, SamplesA]),
    atom_number(SamplesA, Samples),
    seconds(load(File), Load),
    seconds(count(N), Materialize),
    seconds(count(_), Reread),
    findall(P, parent(_, P), Ps0), sort(Ps0, Ps),
    length(Ps, NP),
    findall(Add-Del,
            ( between(1, Samples, I), K is (I * 7919) mod NP, nth0(K, Ps, Parent),
              sample(Parent, I, Add, Del) ),
            Pairs),
    pairs_keys_values(Pairs, Adds, Dels),
    median(Adds, MA), median(Dels, MD),
    hwm_kib(HWM),
    format('{"load_s": ~6f, "materialize_s": ~6f, "reread_s": ~6f, "members": ~d, "add_median_s": ~6f, "remove_median_s": ~6f, "peak_rss_kib": ~d}~n',
           [Load, Materialize, Reread, N, MA, MD, HWM]).
