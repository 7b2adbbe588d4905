; demo.s — the "counter / key-value" demo service (issue #8), in the assembly of
; jam_pvm::asm. Assembled at build/test time into a GP 9.4 service code blob E(↕m, c).
;
; Entry points (GP 9.4, B.3, B.4): refine is Ψ_M(c, 0, ...), accumulate Ψ_M(c, 5, ...).
; Payload and storage formats: services/README.md.
;
; Registers: ra (r0) is the link register of the `nat` subroutine; the halt address that
; GP A.7 puts in ra is kept in s0 (halting = `jump_ind s0, 0`, a jump to 2^32 - 2^16).
; s1 is the cursor of `nat`; t0..t2 and a0..a5 are scratch (a0..a5: host-call arguments).

.metadata "jam demo service: counter / key-value (services/demo.s)"
.stack_size 0
.heap_pages 0

.equ MAGIC, 'J'           ; first payload octet
.equ MAGIC_EXPORT, 'E'    ; refine exports one segment: the rest of the payload
.equ MAGIC_IMPORT, 'I'    ; refine outputs the first n octets of import segment 0
.equ OUT_CAP, 128         ; size of out_buf
.equ MAX_PAYLOAD, 64      ; longest accepted payload
.equ MAX_KEY, 32          ; longest key
.equ IN_CAP, 256          ; how much of one accumulation input is fetched
.equ OPERAND_FIXED, 129   ; tag (1) + four hashes (4 × 32) of an operand (GP C.32)

; Host calls (GP B.4) and their results (GP B.1).
.equ FETCH, 1
.equ READ, 3
.equ WRITE, 4
.equ EXPORT, 7            ; refine: export(p, z) (GP B.x Ω_E)
.equ SEL_IMPORT, 6        ; fetch ω10 = 6: import segment ω11 of this item
.equ SEL_INPUT, 15        ; fetch ω10 = 15: accumulation input ω11 (GP B.6 Ω_Y)
.equ NONE, -1             ; 2^64 - 1
.equ FULL, -5             ; 2^64 - 5

.rw_data
out_buf:  .zero 128       ; refine output
in_buf:   .zero IN_CAP    ; accumulate: the fetched input
count:    .u64 0          ; accumulate: the counter
index:    .u64 0          ; accumulate: the input being processed

.code
        jump @refine                    ; pc 0: refine
.org 5
        jump @accumulate                ; pc 5: accumulate
fail:   trap                            ; invalid payload: panic (a work error)

; ---- refine: arguments E(c, i, w_s, ↕w_y, H(p)) (GP B.3) at a0, a1 octets -------------
refine: move_reg s0, ra
        move_reg s1, a0
        add_64 a2, a0, a1               ; a2 = end of the arguments
        load_imm a3, 4                  ; decode c, i, w_s and |w_y|
        fallthrough
r_nat:  load_imm_jump ra, &r_back, @nat
r_back: add_imm_64 a3, a3, -1
        branch_ne_imm a3, 0, @r_nat
        ; t0 = |payload|, s1 = payload; the 32-octet H(p) follows it
        branch_gt_u_imm t0, MAX_PAYLOAD, @fail
        branch_lt_u_imm t0, 2, @fail
        add_64 t1, s1, t0
        add_imm_64 t1, t1, 32
        branch_lt_u a2, t1, @fail       ; payload and hash within the arguments
        load_ind_u8 t1, s1, 0
        branch_ne_imm t1, MAGIC, @r_other
        load_ind_u8 t1, s1, 1           ; key length k
        branch_eq_imm t1, 0, @fail
        branch_gt_u_imm t1, MAX_KEY, @fail
        add_imm_64 t1, t1, 2
        branch_lt_u t0, t1, @fail       ; 2 + k > |payload|
        ; output = payload[1..] ⌢ E4(sum of payload[1..])
        load_imm t2, 1                  ; i
        load_imm a4, 0                  ; sum
        fallthrough
r_copy: add_64 t1, s1, t2
        load_ind_u8 t1, t1, 0
        store_ind_u8 t1, t2, out_buf - 1
        add_64 a4, a4, t1
        add_imm_64 t2, t2, 1
        branch_lt_u t2, t0, @r_copy
        store_ind_u32 a4, t0, out_buf - 1
        load_imm a0, out_buf
        add_imm_64 a1, t0, 3            ; |payload| - 1 + 4
        jump_ind s0, 0                  ; halt: the output is [a0, a0 + a1)

; ---- refine 'E' / 'I' payloads (services/README.md) ----------------------------------------
r_other:
        branch_eq_imm t1, MAGIC_EXPORT, @r_export
        branch_eq_imm t1, MAGIC_IMPORT, @r_import
        jump @fail
r_export:                               ; export(payload + 1, |payload| - 1)
        add_imm_64 a0, s1, 1
        add_imm_64 a1, t0, -1
        ecalli EXPORT
        branch_eq_imm a0, FULL, @fail
        load_imm a0, 0
        load_imm a1, 0                  ; empty output
        jump_ind s0, 0
r_import:                               ; n = payload[1]; fetch(→ out_buf, 0, n, 6, 0)
        load_ind_u8 t2, s1, 1
        branch_gt_u_imm t2, OUT_CAP, @fail
        load_imm a0, out_buf
        load_imm a1, 0
        move_reg a2, t2
        load_imm a3, SEL_IMPORT
        load_imm a4, 0
        ecalli FETCH
        branch_eq_imm a0, NONE, @fail   ; no import segment 0
        load_imm a0, out_buf
        move_reg a1, t2                 ; output: the first n octets of the segment
        jump_ind s0, 0

; ---- accumulate: arguments E(t, s, |i|) (GP B.4); inputs through fetch -----------------
accumulate:
        move_reg s0, ra
        load_imm a0, NONE               ; read(own service, key "", → count, 0, 8)
        load_imm a1, count
        load_imm a2, 0
        load_imm a3, count
        load_imm a4, 0
        load_imm a5, 8
        ecalli READ                     ; NONE: count stays 0
        fallthrough
a_loop: load_imm a0, in_buf             ; fetch(→ in_buf, 0, IN_CAP, SEL_INPUT, index)
        load_imm a1, 0
        load_imm a2, IN_CAP
        load_imm a3, SEL_INPUT
        load_u64 a4, index
        ecalli FETCH
        branch_eq_imm a0, NONE, @a_done ; no more inputs
        min_u a2, a0, a2
        add_imm_64 a2, a2, in_buf       ; a2 = end of the fetched octets
        load_u8 t0, in_buf
        branch_ne_imm t0, 0, @a_next    ; 1: a deferred transfer
        load_imm s1, in_buf + OPERAND_FIXED
        load_imm_jump ra, &a_gas, @nat  ; skip the gas limit
a_gas:  branch_ge_u s1, a2, @a_next
        load_ind_u8 t0, s1, 0
        branch_ne_imm t0, 0, @a_next    ; a work error: nothing to do
        add_imm_64 s1, s1, 1
        load_imm_jump ra, &a_out, @nat  ; t0 = |output|, s1 = output
a_out:  add_64 t1, s1, t0
        branch_lt_u a2, t1, @a_next     ; not all fetched
        branch_lt_u_imm t0, 6, @a_next
        load_ind_u8 t1, s1, 0           ; key length k
        branch_eq_imm t1, 0, @a_next
        add_imm_64 t2, t1, 5
        branch_lt_u t0, t2, @a_next     ; 1 + k + 4 > |output|
        add_imm_64 t2, t0, -4           ; n = |output| - 4: the checksummed octets
        load_imm a4, 0                  ; sum
        load_imm a5, 0                  ; i
        fallthrough
a_sum:  add_64 a3, s1, a5
        load_ind_u8 a3, a3, 0
        add_64 a4, a4, a3
        add_imm_64 a5, a5, 1
        branch_lt_u a5, t2, @a_sum
        add_64 a3, s1, t2
        load_ind_u32 a3, a3, 0
        branch_ne a3, a4, @a_next       ; bad checksum: ignored
        add_imm_64 a0, s1, 1            ; write(key, k, value, n - 1 - k)
        move_reg a1, t1
        add_64 a2, a0, t1
        sub_64 a3, t2, t1
        add_imm_64 a3, a3, -1
        ecalli WRITE
        branch_eq_imm a0, FULL, @a_next ; not enough balance: not counted
        load_u64 t0, count
        add_imm_64 t0, t0, 1
        store_u64 t0, count
        fallthrough
a_next: load_u64 t0, index
        add_imm_64 t0, t0, 1
        store_u64 t0, index
        jump @a_loop
a_done: load_imm a0, count              ; write(key "", E8(count))
        load_imm a1, 0
        load_imm a2, count
        load_imm a3, 8
        ecalli WRITE
        load_imm a0, 0
        load_imm a1, 0                  ; no output: nothing yielded
        jump_ind s0, 0

; ---- nat: t0 = the natural E^-1 (GP C.1) at s1; s1 moves past it ----------------------
; Clobbers t1, t2, a4, a5; returns through ra. The 9-octet form (≥ 2^56) panics.
nat:    load_ind_u8 t0, s1, 0           ; first octet
        xor_imm t1, t0, 0xff
        leading_zero_bits_64 t1, t1
        add_imm_64 t1, t1, -56          ; l = its leading one bits
        branch_eq_imm t1, 8, @fail
        neg_add_imm_64 t2, t1, 7        ; high part: first & (2^(7-l) - 1)
        load_imm a5, 1
        shlo_l_64 t2, a5, t2
        add_imm_64 t2, t2, -1
        and t0, t0, t2
        shlo_l_imm_64 t2, t1, 3         ; low part: the next l octets
        shlo_l_64 a5, a5, t2
        add_imm_64 a5, a5, -1
        load_ind_u64 a4, s1, 1
        and a4, a4, a5
        shlo_l_64 t0, t0, t2
        or t0, t0, a4                   ; high · 2^(8l) + low
        add_64 s1, s1, t1
        add_imm_64 s1, s1, 1
        jump_ind ra, 0
