// The mask / score-mod IR (lib/attention/mask-ir.ts), run natively. The TS side flattens the
// expression tree into straight-line code (lib/backends/cpu/program.ts); here each register
// is either uniform over a row (depends only on b, h, q) or a vector over the row's kv
// positions, so uniform subexpressions cost one scalar op per row and the rest are tight
// loops over the row: never one call per element.
#pragma once
#include <cstdint>
#include <vector>

namespace sl {

// Opcodes shared with lib/backends/cpu/program.ts (OPCODES); keep the two in step.
enum Op : int32_t {
  OP_CONST = 0, OP_VAR = 1, OP_IDX = 2, OP_SEL = 3,
  // unary
  OP_NEG = 10, OP_NOT, OP_ABS, OP_FLOOR, OP_CEIL, OP_SIGN, OP_TANH, OP_EXP, OP_LOG, OP_SQRT,
  // binary
  OP_ADD = 30, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_FLOORDIV, OP_MIN, OP_MAX, OP_POW,
  OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE, OP_AND, OP_OR, OP_XOR,
};
enum Var : int32_t { VAR_B = 0, VAR_H = 1, VAR_Q = 2, VAR_KV = 3, VAR_SCORE = 4 };

struct Program {
  // 5 ints per instruction: op, dst, a, b, c (a: const index / var id / table / operand reg).
  std::vector<int32_t> code;
  std::vector<double> consts;
  std::vector<std::vector<double>> tables;
  int nregs = 0;
  int result = 0;  // register holding the value
  bool uses_score = false;
};

// Per-thread registers for one row of up to `cap` kv positions.
class ProgramRunner {
 public:
  ProgramRunner(const Program& p, int cap);
  // Mask: keep[j] = program(b, h, q, kv0 + j) != 0 for j < n.
  void mask_row(int b, int h, int q, int kv0, int n, uint8_t* keep);
  // Score mod: score[j] = program(b, h, q, kv0 + j, score[j]) for j < n.
  void score_row(int b, int h, int q, int kv0, int n, float* score);

 private:
  void run(int b, int h, int q, int kv0, int n, const float* score);
  const Program& p_;
  int cap_;
  std::vector<double> vals_;  // nregs x cap
  std::vector<uint8_t> uni_;
  std::vector<double> sval_;
};

}  // namespace sl
