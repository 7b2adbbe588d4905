; authorizer.s — the dev-chain authorizer (issue #8): a minimal is-authorized program in the
; assembly of jam_pvm::asm, assembled at build/test time into a GP 9.4 code blob E(↕m, c).
;
; Ψ_I runs it from pc 0 with the argument E2(c) (GP B.1). It authorizes every package: it
; halts at once, so its output (the authorizer trace) is the argument itself, E2(c).

.metadata "jam dev authorizer: authorizes any package (services/authorizer.s)"
.stack_size 0
.heap_pages 0

.code
        jump_ind ra, 0                  ; halt: the output is [a0, a0 + a1) = E2(c)
