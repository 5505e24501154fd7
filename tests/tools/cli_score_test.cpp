// `retort score` end to end: one JSON line per record with each reward and the total, metadata
// from the record's other fields, reward arguments from --args, and one-line errors.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "tests/test_util.h"

namespace retort {
namespace {

using testing::run_retort;

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

TEST(CliScore, PrintsEachRewardAndTheWeightedTotalPerRecord) {
  testing::TempDir tmp;
  std::ofstream(tmp.path("in.jsonl"))
      << R"({"prompt": "User: 2+2? Assistant:", "completion": " <think>easy</think> <answer>4</answer>", "reference": "4"})"
      << "\n\n"  // blank lines are skipped
      << R"({"completion": "<think>hmm</think><answer>5</answer> ok", "answer": 4})"
      << "\n";
  const auto r = run_retort("score --rewards format:0.5,accuracy --input " + tmp.path("in.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  // Keys in --rewards order, then the total: 0.5 · 1 + 1 · 1 = 1.5; then 0.5 · 0 + 1 · 0 = 0.
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), R"({"format":1.0,"accuracy":1.0,"total":1.5})");
  EXPECT_EQ(lines[1], nlohmann::json({{"format", 0.0}, {"accuracy", 0.0}, {"total", 0.0}}));
}

TEST(CliScore, OtherFieldsAreMetadataAndArgsReachTheReward) {
  testing::TempDir tmp;
  std::ofstream(tmp.path("in.jsonl"))
      << R"({"completion": "<answer>3 * 5 + 7</answer>", "numbers": [3, 5, 7], "target": 22, "completion_tokens": 90})"
      << "\n";
  // overlong with L_max = 100, L_cache = 20 at 90 tokens: (80 − 90) / 20 = −0.5; total 1 − 0.5.
  const auto r = run_retort(
      "score --rewards countdown,overlong --args "
      "'{\"overlong\": {\"max_tokens\": 100, \"cache_tokens\": 20}}' --input " +
      tmp.path("in.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_lines(r.out).at(0),
            nlohmann::json({{"countdown", 1.0}, {"overlong", -0.5}, {"total", 0.5}}));
}

TEST(CliScore, UnscorableSamplesAreReportedNotErrors) {
  testing::TempDir tmp;
  std::ofstream(tmp.path("in.jsonl")) << R"({"completion": "<answer>4</answer>"})"
                                      << "\n";
  const auto r = run_retort("score --rewards accuracy --input " + tmp.path("in.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto line = json_lines(r.out).at(0);
  EXPECT_EQ(line["accuracy"]["unscorable"], "empty reference answer");
  EXPECT_EQ(line["total"]["unscorable"], "accuracy: empty reference answer");
}

TEST(CliScore, BadLineNamesFileAndLine) {
  testing::TempDir tmp;
  std::ofstream(tmp.path("in.jsonl")) << R"({"completion": "x"})"
                                      << "\n"
                                      << R"({"prompt": "no completion"})"
                                      << "\n";
  const auto r = run_retort("score --rewards format --input " + tmp.path("in.jsonl"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("in.jsonl:2: expected a string \"completion\""), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  std::ofstream(tmp.path("bad.jsonl")) << "{not json\n";
  const auto bad = run_retort("score --rewards format --input " + tmp.path("bad.jsonl"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("bad.jsonl:1: not valid JSON"), std::string::npos) << bad.err;
}

TEST(CliScore, UnknownRewardOrArgumentIsOneLineAndNonZero) {
  testing::TempDir tmp;
  std::ofstream(tmp.path("in.jsonl")) << R"({"completion": "x"})"
                                      << "\n";
  const auto name = run_retort("score --rewards formatt --input " + tmp.path("in.jsonl"));
  EXPECT_EQ(name.exit_code, 1);
  EXPECT_NE(name.err.find("unknown reward \"formatt\"; known rewards: accuracy,"),
            std::string::npos)
      << name.err;
  const auto arg = run_retort(
      "score --rewards repetition --args '{\"repetition\": {\"size\": 2}}' "
      "--input " +
      tmp.path("in.jsonl"));
  EXPECT_EQ(arg.exit_code, 1);
  EXPECT_NE(arg.err.find("reward repetition: argument size: unknown argument"), std::string::npos)
      << arg.err;
  const auto stray = run_retort("score --rewards format --args '{\"overlong\": {}}' --input " +
                                tmp.path("in.jsonl"));
  EXPECT_EQ(stray.exit_code, 1);
  EXPECT_NE(stray.err.find("\"overlong\" is not one of the rewards"), std::string::npos)
      << stray.err;
  EXPECT_EQ(std::count(stray.err.begin(), stray.err.end(), '\n'), 1) << stray.err;
}

}  // namespace
}  // namespace retort
