// Opcodes and the plain-array view of a lowered mask / score-mod program, shared by the
// generic side (program.h) and the per-ISA evaluators (program_isa.inc). No standard headers:
// the ISA files include this after their `#pragma GCC target`.
#pragma once

namespace sl {

// Opcodes shared with lib/backends/cpu/program.ts (OPCODES); keep the two in step.
enum Op : int {
  OP_CONST = 0, OP_VAR = 1, OP_IDX = 2, OP_SEL = 3,
  // unary
  OP_NEG = 10, OP_NOT, OP_ABS, OP_FLOOR, OP_CEIL, OP_SIGN, OP_TANH, OP_EXP, OP_LOG, OP_SQRT,
  // binary
  OP_ADD = 30, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_FLOORDIV, OP_MIN, OP_MAX, OP_POW,
  OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE, OP_AND, OP_OR, OP_XOR,
};
enum Var : int { VAR_B = 0, VAR_H = 1, VAR_Q = 2, VAR_KV = 3, VAR_SCORE = 4 };

struct ProgramView {
  const int* code;  // 5 ints per instruction: op, dst, a, b, c
  int ninstr;
  const double* consts;
  const double* const* tables;
  const long* table_len;
  int result;
};

// Registers for one row: vals is nregs x cap doubles; uni[r] marks a register uniform over the
// row (its value in sval[r]).
struct ProgramScratch {
  double* vals;
  unsigned char* uni;
  double* sval;
  int cap;
};

}  // namespace sl
