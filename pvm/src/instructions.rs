//! The instruction set of GP v0.7.2 Appendix A.5 (opcode tables), defined once.
//!
//! [`instruction_set!`] expands one table into the [`Opcode`] enum, the byte → opcode
//! lookup, the argument format of every opcode (which drives the decoder in
//! `program.rs`), the block-termination set `T` of A.3 and the disassembler names.

/// How the operands of an instruction are encoded (the sub-sections of GP A.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgFormat {
    /// A.5.1 no arguments.
    NoArgs,
    /// A.5.2 one immediate.
    OneImm,
    /// A.5.3 one register and one extended-width (64-bit) immediate.
    RegExtImm,
    /// A.5.4 two immediates.
    TwoImm,
    /// A.5.5 one offset.
    OneOffset,
    /// A.5.6 one register and one immediate.
    RegImm,
    /// A.5.7 one register and two immediates.
    RegTwoImm,
    /// A.5.8 one register, one immediate and one offset.
    RegImmOffset,
    /// A.5.9 two registers.
    TwoRegs,
    /// A.5.10 two registers and one immediate.
    TwoRegsImm,
    /// A.5.11 two registers and one offset.
    TwoRegsOffset,
    /// A.5.12 two registers and two immediates.
    TwoRegsTwoImm,
    /// A.5.13 three registers.
    ThreeRegs,
}

macro_rules! instruction_set {
    ($( $code:literal => $name:ident, $fmt:ident, $term:literal; )*) => {
        /// A GP v0.7.2 opcode. Variant names are the GP names; the discriminant is the
        /// opcode byte.
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Opcode {
            $( $name = $code, )*
        }

        /// Opcode bytes as constants (for matching on the compact form's `u8`).
        #[allow(non_upper_case_globals, dead_code)]
        pub(crate) mod code {
            $( pub const $name: u8 = $code; )*
        }

        impl Opcode {
            /// Every opcode of the table, in opcode order.
            pub const ALL: &'static [Opcode] = &[$( Opcode::$name, )*];

            /// The opcode for a byte, or `None` when the byte is not in the table (`U`).
            #[inline]
            pub const fn from_u8(byte: u8) -> Option<Opcode> {
                match byte {
                    $( $code => Some(Opcode::$name), )*
                    _ => None,
                }
            }

            /// The GP name, e.g. `"add_64"`.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Opcode::$name => stringify!($name), )*
                }
            }

            /// How the operands are encoded.
            pub const fn format(self) -> ArgFormat {
                match self {
                    $( Opcode::$name => ArgFormat::$fmt, )*
                }
            }

            /// Whether this opcode is in the block-termination set `T` of GP A.3.
            pub const fn is_terminator(self) -> bool {
                match self {
                    $( Opcode::$name => $term, )*
                }
            }

            /// The opcode for a GP name, e.g. `"add_64"`.
            pub fn from_name(name: &str) -> Option<Opcode> {
                match name {
                    $( stringify!($name) => Some(Opcode::$name), )*
                    _ => None,
                }
            }
        }
    };
}

instruction_set! {
    0 => trap, NoArgs, true;
    1 => fallthrough, NoArgs, true;
    10 => ecalli, OneImm, false;
    20 => load_imm_64, RegExtImm, false;
    30 => store_imm_u8, TwoImm, false;
    31 => store_imm_u16, TwoImm, false;
    32 => store_imm_u32, TwoImm, false;
    33 => store_imm_u64, TwoImm, false;
    40 => jump, OneOffset, true;
    50 => jump_ind, RegImm, true;
    51 => load_imm, RegImm, false;
    52 => load_u8, RegImm, false;
    53 => load_i8, RegImm, false;
    54 => load_u16, RegImm, false;
    55 => load_i16, RegImm, false;
    56 => load_u32, RegImm, false;
    57 => load_i32, RegImm, false;
    58 => load_u64, RegImm, false;
    59 => store_u8, RegImm, false;
    60 => store_u16, RegImm, false;
    61 => store_u32, RegImm, false;
    62 => store_u64, RegImm, false;
    70 => store_imm_ind_u8, RegTwoImm, false;
    71 => store_imm_ind_u16, RegTwoImm, false;
    72 => store_imm_ind_u32, RegTwoImm, false;
    73 => store_imm_ind_u64, RegTwoImm, false;
    80 => load_imm_jump, RegImmOffset, true;
    81 => branch_eq_imm, RegImmOffset, true;
    82 => branch_ne_imm, RegImmOffset, true;
    83 => branch_lt_u_imm, RegImmOffset, true;
    84 => branch_le_u_imm, RegImmOffset, true;
    85 => branch_ge_u_imm, RegImmOffset, true;
    86 => branch_gt_u_imm, RegImmOffset, true;
    87 => branch_lt_s_imm, RegImmOffset, true;
    88 => branch_le_s_imm, RegImmOffset, true;
    89 => branch_ge_s_imm, RegImmOffset, true;
    90 => branch_gt_s_imm, RegImmOffset, true;
    100 => move_reg, TwoRegs, false;
    101 => sbrk, TwoRegs, false;
    102 => count_set_bits_64, TwoRegs, false;
    103 => count_set_bits_32, TwoRegs, false;
    104 => leading_zero_bits_64, TwoRegs, false;
    105 => leading_zero_bits_32, TwoRegs, false;
    106 => trailing_zero_bits_64, TwoRegs, false;
    107 => trailing_zero_bits_32, TwoRegs, false;
    108 => sign_extend_8, TwoRegs, false;
    109 => sign_extend_16, TwoRegs, false;
    110 => zero_extend_16, TwoRegs, false;
    111 => reverse_bytes, TwoRegs, false;
    120 => store_ind_u8, TwoRegsImm, false;
    121 => store_ind_u16, TwoRegsImm, false;
    122 => store_ind_u32, TwoRegsImm, false;
    123 => store_ind_u64, TwoRegsImm, false;
    124 => load_ind_u8, TwoRegsImm, false;
    125 => load_ind_i8, TwoRegsImm, false;
    126 => load_ind_u16, TwoRegsImm, false;
    127 => load_ind_i16, TwoRegsImm, false;
    128 => load_ind_u32, TwoRegsImm, false;
    129 => load_ind_i32, TwoRegsImm, false;
    130 => load_ind_u64, TwoRegsImm, false;
    131 => add_imm_32, TwoRegsImm, false;
    132 => and_imm, TwoRegsImm, false;
    133 => xor_imm, TwoRegsImm, false;
    134 => or_imm, TwoRegsImm, false;
    135 => mul_imm_32, TwoRegsImm, false;
    136 => set_lt_u_imm, TwoRegsImm, false;
    137 => set_lt_s_imm, TwoRegsImm, false;
    138 => shlo_l_imm_32, TwoRegsImm, false;
    139 => shlo_r_imm_32, TwoRegsImm, false;
    140 => shar_r_imm_32, TwoRegsImm, false;
    141 => neg_add_imm_32, TwoRegsImm, false;
    142 => set_gt_u_imm, TwoRegsImm, false;
    143 => set_gt_s_imm, TwoRegsImm, false;
    144 => shlo_l_imm_alt_32, TwoRegsImm, false;
    145 => shlo_r_imm_alt_32, TwoRegsImm, false;
    146 => shar_r_imm_alt_32, TwoRegsImm, false;
    147 => cmov_iz_imm, TwoRegsImm, false;
    148 => cmov_nz_imm, TwoRegsImm, false;
    149 => add_imm_64, TwoRegsImm, false;
    150 => mul_imm_64, TwoRegsImm, false;
    151 => shlo_l_imm_64, TwoRegsImm, false;
    152 => shlo_r_imm_64, TwoRegsImm, false;
    153 => shar_r_imm_64, TwoRegsImm, false;
    154 => neg_add_imm_64, TwoRegsImm, false;
    155 => shlo_l_imm_alt_64, TwoRegsImm, false;
    156 => shlo_r_imm_alt_64, TwoRegsImm, false;
    157 => shar_r_imm_alt_64, TwoRegsImm, false;
    158 => rot_r_64_imm, TwoRegsImm, false;
    159 => rot_r_64_imm_alt, TwoRegsImm, false;
    160 => rot_r_32_imm, TwoRegsImm, false;
    161 => rot_r_32_imm_alt, TwoRegsImm, false;
    170 => branch_eq, TwoRegsOffset, true;
    171 => branch_ne, TwoRegsOffset, true;
    172 => branch_lt_u, TwoRegsOffset, true;
    173 => branch_lt_s, TwoRegsOffset, true;
    174 => branch_ge_u, TwoRegsOffset, true;
    175 => branch_ge_s, TwoRegsOffset, true;
    180 => load_imm_jump_ind, TwoRegsTwoImm, true;
    190 => add_32, ThreeRegs, false;
    191 => sub_32, ThreeRegs, false;
    192 => mul_32, ThreeRegs, false;
    193 => div_u_32, ThreeRegs, false;
    194 => div_s_32, ThreeRegs, false;
    195 => rem_u_32, ThreeRegs, false;
    196 => rem_s_32, ThreeRegs, false;
    197 => shlo_l_32, ThreeRegs, false;
    198 => shlo_r_32, ThreeRegs, false;
    199 => shar_r_32, ThreeRegs, false;
    200 => add_64, ThreeRegs, false;
    201 => sub_64, ThreeRegs, false;
    202 => mul_64, ThreeRegs, false;
    203 => div_u_64, ThreeRegs, false;
    204 => div_s_64, ThreeRegs, false;
    205 => rem_u_64, ThreeRegs, false;
    206 => rem_s_64, ThreeRegs, false;
    207 => shlo_l_64, ThreeRegs, false;
    208 => shlo_r_64, ThreeRegs, false;
    209 => shar_r_64, ThreeRegs, false;
    210 => and, ThreeRegs, false;
    211 => xor, ThreeRegs, false;
    212 => or, ThreeRegs, false;
    213 => mul_upper_s_s, ThreeRegs, false;
    214 => mul_upper_u_u, ThreeRegs, false;
    215 => mul_upper_s_u, ThreeRegs, false;
    216 => set_lt_u, ThreeRegs, false;
    217 => set_lt_s, ThreeRegs, false;
    218 => cmov_iz, ThreeRegs, false;
    219 => cmov_nz, ThreeRegs, false;
    220 => rot_l_64, ThreeRegs, false;
    221 => rot_l_32, ThreeRegs, false;
    222 => rot_r_64, ThreeRegs, false;
    223 => rot_r_32, ThreeRegs, false;
    224 => and_inv, ThreeRegs, false;
    225 => or_inv, ThreeRegs, false;
    226 => xnor, ThreeRegs, false;
    227 => max, ThreeRegs, false;
    228 => max_u, ThreeRegs, false;
    229 => min, ThreeRegs, false;
    230 => min_u, ThreeRegs, false;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_round_trips() {
        assert_eq!(Opcode::ALL.len(), 139);
        for &op in Opcode::ALL {
            assert_eq!(Opcode::from_u8(op as u8), Some(op));
            assert_eq!(Opcode::from_name(op.name()), Some(op));
        }
        assert_eq!(Opcode::from_u8(101), Some(Opcode::sbrk));
        assert_eq!(Opcode::from_u8(102), Some(Opcode::count_set_bits_64));
        assert_eq!(Opcode::from_u8(2), None);
    }
}
