; heavy.s — a compute-bound service for `jam bench refine`, in the assembly of jam_pvm::asm.
;
; Refine (pc 0) hashes its whole argument blob E(c, i, w_s, ↕w_y, H(p)) (GP B.3) ROUNDS
; times with 64-bit FNV-1a and outputs the 8-octet little-endian digest: the work is
; ROUNDS × |arguments| loop iterations, so a bench sets it through the payload size. No
; host calls. Accumulate (pc 5) halts at once with no output.

.metadata "jam bench service: compute-bound refine (services/heavy.s)"
.stack_size 0
.heap_pages 0

.equ ROUNDS, 16
.equ FNV_BASIS, 0xcbf29ce484222325
.equ FNV_PRIME, 0x100000001b3

.rw_data
digest: .u64 0

.code
        jump @refine                    ; pc 0: refine
.org 5
        jump_ind ra, 0                  ; pc 5: accumulate halts at once
refine: load_imm_64 t0, FNV_BASIS       ; t0 = h
        load_imm_64 t1, FNV_PRIME
        load_imm a3, ROUNDS
        fallthrough
round:  load_imm t2, 0                  ; t2 = offset into the arguments
        fallthrough
octet:  add_64 a4, a0, t2
        load_ind_u8 a4, a4, 0
        xor t0, t0, a4
        mul_64 t0, t0, t1
        add_imm_64 t2, t2, 1
        branch_lt_u t2, a1, @octet
        add_imm_64 a3, a3, -1
        branch_ne_imm a3, 0, @round
        load_imm a0, digest
        store_ind_u64 t0, a0, 0
        load_imm a1, 8
        jump_ind ra, 0                  ; halt: the output is [a0, a0 + 8)
