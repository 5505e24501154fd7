// The retort program end to end: each subcommand's output on the fixtures, and that bad arguments
// or files give one clear line on stderr and a non-zero exit.
#include <cstdio>
#include <fstream>
#include <sstream>

#include <torch/torch.h>

#include "tests/test_util.h"

namespace retort {
namespace {

using testing::run_retort;

TEST(Cli, LogprobsPrintsTransformersNumbersForIdRecords) {
  testing::TempDir tmp;
  const auto golden = testing::read_json(testing::fixture("models/qwen2/golden.json"));
  const auto& seq = golden["sequences"][3];  // 33 tokens
  std::ofstream(tmp.path("in.jsonl")) << nlohmann::json({{"ids", seq["ids"]}}).dump() << "\n\n";
  const auto r = run_retort("logprobs --model " + testing::fixture("models/qwen2") + " --input " +
                            tmp.path("in.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto line = nlohmann::json::parse(r.out);
  EXPECT_EQ(line["ids"], seq["ids"]);
  const auto got = line["logprobs"].get<std::vector<double>>();
  const auto expected = seq["logprobs"].get<std::vector<double>>();
  ASSERT_EQ(got.size(), expected.size());
  for (size_t t = 0; t < got.size(); ++t) EXPECT_NEAR(got[t], expected[t], 1e-4) << "t = " << t;
}

TEST(Cli, LogprobsNamesTheBadLine) {
  testing::TempDir tmp;
  std::ofstream(tmp.path("in.jsonl")) << "{\"ids\": [1, 2]}\n{\"ids\": [1, 999]}\n";
  const auto r = run_retort("logprobs --model " + testing::fixture("models/qwen2") + " --input " +
                            tmp.path("in.jsonl"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("in.jsonl:2: token id 999 is outside the vocabulary [0, 320)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;  // one line
}

TEST(Cli, LogprobsEncodesTextRecordsWithTheGivenTokenizer) {
  testing::TempDir tmp;
  // The byte tokenizer maps "hi!" to its bytes 104, 105, 33.
  std::ofstream(tmp.path("in.jsonl")) << "{\"text\": \"hi!\"}\n{\"ids\": [104, 105, 33]}\n";
  const auto r = run_retort("logprobs --tokenizer byte --model " +
                            testing::fixture("models/llama") + " --input " + tmp.path("in.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string text_line, ids_line;
  std::getline(lines, text_line);
  std::getline(lines, ids_line);
  const auto from_text = nlohmann::json::parse(text_line),
             from_ids = nlohmann::json::parse(ids_line);
  EXPECT_EQ(from_text["text"], "hi!");
  EXPECT_EQ(from_text["ids"], from_ids["ids"]);
  EXPECT_EQ(from_text["logprobs"], from_ids["logprobs"]);
}

TEST(Cli, InspectReportsArchitectureAndParameterCount) {
  const auto r = run_retort("inspect --json " + testing::fixture("models/qwen3"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto info = nlohmann::json::parse(r.out);
  EXPECT_EQ(info["architecture"], "Qwen3ForCausalLM");
  // 2 layers × (64·(128+64+64) + 128·64 + 2·32 + 3·64·160 + 2·64) + 320·64 (tied) + 64 = 131520
  EXPECT_EQ(info["parameters"], 131520);
  EXPECT_EQ(info["stored_dtypes"]["F32"], 131520);
}

TEST(Cli, InitWritesADirectoryThatLoadsBack) {
  testing::TempDir tmp;
  const auto r = run_retort("init --preset tiny --seed 3 --out " + tmp.path("m"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto info = run_retort("inspect --json " + tmp.path("m"));
  EXPECT_EQ(nlohmann::json::parse(info.out)["architecture"], "Qwen3ForCausalLM");
  const auto again = run_retort("init --preset tiny --out " + tmp.path("m"));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("not empty"), std::string::npos) << again.err;
}

TEST(Cli, BadArgumentsAreOneLineAndNonZero) {
  const auto missing = run_retort("inspect /nonexistent/model");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("/nonexistent/model"), std::string::npos) << missing.err;
  const auto preset = run_retort("init --preset gpt5 --out /tmp/x");
  EXPECT_EQ(preset.exit_code, 1);
  EXPECT_NE(preset.err.find("known presets: tiny"), std::string::npos) << preset.err;
  EXPECT_NE(run_retort("frobnicate").exit_code, 0);
}

}  // namespace
}  // namespace retort
