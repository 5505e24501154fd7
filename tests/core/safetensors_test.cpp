// Tests for core/safetensors: bit-exact round trips, sharded checkpoints, zero-copy reads, a
// hand-built file as an independent reference, and one test per malformed or hostile file, each
// checking that the retort::Error names the file and the facts a user needs to fix it.
#include "core/safetensors.h"
#include "core/fs_util.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace retort::safetensors {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed when the test ends.
class TempDir {
 public:
  TempDir()
      : path_(fs::temp_directory_path() /
              ("retort_st_test_" + std::to_string(::getpid()) + "_" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    remove_tree(path_.string());
    fs::create_directories(path_);
  }
  ~TempDir() {
    try {
      remove_tree(path_.string());
    } catch (const Error&) {  // leave the directory behind rather than throw from a destructor
    }
  }
  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::string le64(uint64_t value) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(value >> (8 * i));
  return bytes;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

// A safetensors file built by hand: length, header text as given (unpadded), data.
std::string write_raw(const TempDir& dir, const std::string& header, const std::string& data) {
  const std::string path = dir.file("raw.safetensors");
  write_file(path, le64(header.size()) + header + data);
  return path;
}

// The message of the retort::Error that File::open throws for path.
std::string open_error(const std::string& path) {
  try {
    File::open(path);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << path << " opened without an error";
  return "";
}

std::string raw_error(const TempDir& dir, const std::string& header, const std::string& data) {
  return open_error(write_raw(dir, header, data));
}

std::string checkpoint_error(const std::string& dir) {
  try {
    Checkpoint::open(dir);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << dir << " opened without an error";
  return "";
}

void expect_mentions(const std::string& message, std::initializer_list<std::string> facts) {
  for (const std::string& fact : facts) {
    EXPECT_NE(message.find(fact), std::string::npos)
        << "'" << fact << "' missing from: " << message;
  }
}

// Same dtype, shape and bytes: NaN payloads and -0 included, unlike torch::equal.
void expect_bit_exact(const at::Tensor& actual, const at::Tensor& expected) {
  ASSERT_EQ(actual.scalar_type(), expected.scalar_type());
  ASSERT_EQ(actual.sizes(), expected.sizes());
  const at::Tensor a = actual.contiguous(), e = expected.contiguous();
  EXPECT_EQ(std::memcmp(a.data_ptr(), e.data_ptr(), a.numel() * a.element_size()), 0);
}

at::Tensor random_tensor(c10::ScalarType type, at::IntArrayRef shape) {
  if (at::isFloatingType(type)) return torch::randn(shape).to(type);
  if (type == at::kBool) return torch::randint(0, 2, shape).to(type);
  if (type == at::kByte) return torch::randint(0, 256, shape).to(type);
  return torch::randint(-128, 128, shape).to(type);
}

// ---- Round trips -----------------------------------------------------------------------------

TEST(Safetensors, RoundTripsEveryDTypeBitExactly) {
  TempDir dir;
  torch::manual_seed(0);
  const c10::ScalarType types[] = {at::kDouble, at::kFloat, at::kHalf, at::kBFloat16, at::kLong,
                                   at::kInt,    at::kShort, at::kChar, at::kByte,     at::kBool};
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (c10::ScalarType type : types) {
    tensors.emplace_back(c10::toString(type), random_tensor(type, {3, 5}));
  }
  save(dir.file("all.safetensors"), tensors);

  const File file = File::open(dir.file("all.safetensors"));
  ASSERT_EQ(file.tensors().size(), tensors.size());
  for (const auto& [name, expected] : tensors) {
    SCOPED_TRACE(name);
    expect_bit_exact(file.tensor(name), expected);
  }
}

TEST(Safetensors, RoundTripsHalfAndBFloat16BitPatterns) {
  TempDir dir;
  // +0, -0, smallest subnormal, 1.0 (F16 0x3c00 / BF16 0x3f80), +inf, a NaN with a payload.
  const at::Tensor f16 = torch::tensor({0x0000, 0x8000, 0x0001, 0x3c00, 0x7c00, 0x7e01}, at::kInt)
                             .to(at::kShort)
                             .view(at::kHalf);
  const at::Tensor bf16 = torch::tensor({0x0000, 0x8000, 0x0001, 0x3f80, 0x7f80, 0x7fc1}, at::kInt)
                              .to(at::kShort)
                              .view(at::kBFloat16);
  save(dir.file("bits.safetensors"), {{"f16", f16}, {"bf16", bf16}});

  const File file = File::open(dir.file("bits.safetensors"));
  EXPECT_EQ(file.find("f16")->dtype, DType::kF16);
  EXPECT_EQ(file.find("bf16")->dtype, DType::kBF16);
  expect_bit_exact(file.tensor("f16"), f16);
  expect_bit_exact(file.tensor("bf16"), bf16);
}

TEST(Safetensors, RoundTripsMetadata) {
  TempDir dir;
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"step", "1200"}, {"note", "ünïcode \"quoted\""}};
  save(dir.file("m.safetensors"), {{"w", torch::ones({2})}}, metadata);
  EXPECT_EQ(File::open(dir.file("m.safetensors")).metadata(), metadata);

  save(dir.file("none.safetensors"), {{"w", torch::ones({2})}});
  EXPECT_TRUE(File::open(dir.file("none.safetensors")).metadata().empty());
}

TEST(Safetensors, RoundTripsScalarsAndZeroSizeTensors) {
  TempDir dir;
  save(dir.file("z.safetensors"), {{"scalar", torch::tensor(2.5)},
                                   {"empty", torch::zeros({3, 0, 2}, at::kBFloat16)},
                                   {"also_empty", torch::zeros({0}, at::kLong)}});
  const File file = File::open(dir.file("z.safetensors"));
  EXPECT_EQ(file.tensor("scalar").dim(), 0);
  EXPECT_EQ(file.tensor("scalar").item<double>(), 2.5);
  EXPECT_EQ(file.tensor("empty").sizes(), at::IntArrayRef({3, 0, 2}));
  EXPECT_EQ(file.find("also_empty")->begin, file.find("also_empty")->end);
}

TEST(Safetensors, WritesNonContiguousTensorsContiguously) {
  TempDir dir;
  const at::Tensor base = torch::arange(12, at::kFloat).reshape({3, 4});
  const at::Tensor transposed = base.t();                               // [4, 3], strides (1, 4)
  const at::Tensor sliced = base.index({torch::indexing::Slice(), 1});  // [3], storage offset 1
  save(dir.file("nc.safetensors"), {{"t", transposed}, {"s", sliced}});
  const File file = File::open(dir.file("nc.safetensors"));
  EXPECT_TRUE(torch::equal(file.tensor("t"), transposed));
  EXPECT_TRUE(torch::equal(file.tensor("s"), torch::tensor({1.f, 5.f, 9.f})));
}

TEST(Safetensors, SaveCopiesCudaTensorsToCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  TempDir dir;
  const at::Tensor on_gpu = torch::randn({4, 4}, at::TensorOptions().device(at::kCUDA));
  save(dir.file("gpu.safetensors"), {{"w", on_gpu}});
  expect_bit_exact(File::open(dir.file("gpu.safetensors")).tensor("w"), on_gpu.cpu());
}

TEST(Safetensors, ListsTensorsInDataOffsetOrderAndFindsThemByName) {
  TempDir dir;
  // save() lays out by element size, largest first: the I64 comes before the F32 and the U8.
  save(dir.file("o.safetensors"), {{"a_u8", torch::zeros({3}, at::kByte)},
                                   {"b_f32", torch::zeros({2})},
                                   {"c_i64", torch::zeros({1}, at::kLong)}});
  const File file = File::open(dir.file("o.safetensors"));
  ASSERT_EQ(file.tensors().size(), 3u);
  EXPECT_EQ(file.tensors()[0].name, "c_i64");
  EXPECT_EQ(file.tensors()[1].name, "b_f32");
  EXPECT_EQ(file.tensors()[2].name, "a_u8");
  EXPECT_EQ(file.tensors()[1].begin, 8u);  // after 1 × 8 bytes
  EXPECT_EQ(file.tensors()[2].end, 19u);   // 8 + 2 × 4 + 3 × 1
  EXPECT_EQ(file.find("missing"), nullptr);
  EXPECT_EQ(file.path(), dir.file("o.safetensors"));
}

TEST(Safetensors, WritesTheDocumentedByteLayout) {
  TempDir dir;
  save(dir.file("l.safetensors"), {{"w", torch::tensor({1.f, -2.f})}});
  std::ifstream in(dir.file("l.safetensors"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(bytes.size(), 8u);
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = header_bytes << 8 | uint8_t(bytes[i]);
  EXPECT_EQ(header_bytes % 8, 0u);  // padded with spaces
  ASSERT_EQ(bytes.size(), 8 + header_bytes + 8);
  EXPECT_EQ(nlohmann::json::parse(bytes.substr(8, header_bytes)),
            nlohmann::json::parse(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})"));
  // 1.0f = 0x3f800000, -2.0f = 0xc0000000, little-endian.
  EXPECT_EQ(bytes.substr(8 + header_bytes), std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8));
}

// ---- An independent reference: bytes written by hand -----------------------------------------

TEST(Safetensors, ReadsAHandBuiltFile) {
  TempDir dir;
  // Little-endian IEEE 754: 1.0f = 0x3f800000, -2.0f = 0xc0000000, 0.5f = 0x3f000000,
  // 3.0f = 0x40400000; int16 -3 = 0xfffd, 258 = 0x0102.
  const std::string header = R"({"__metadata__":{"format":"pt"},)"
                             R"("w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
                             R"("ids":{"dtype":"I16","shape":[2],"data_offsets":[16,20]}})";
  const std::string data = std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8) +
                           std::string("\x00\x00\x00\x3f\x00\x00\x40\x40", 8) +
                           std::string("\xfd\xff\x02\x01", 4);
  // 8 + header length + 0 is 4-aligned only if the header is; pad it so "w" is read zero-copy.
  const std::string padded = header + std::string((8 - header.size() % 8) % 8, ' ');
  const File file = File::open(write_raw(dir, padded, data));

  EXPECT_TRUE(
      torch::equal(file.tensor("w"), torch::tensor({1.f, -2.f, 0.5f, 3.f}).reshape({2, 2})));
  EXPECT_TRUE(torch::equal(file.tensor("ids"), torch::tensor({-3, 258}, at::kShort)));
  EXPECT_EQ(file.metadata().at("format"), "pt");
}

TEST(Safetensors, CopiesTensorsMisalignedForTheirDtype) {
  TempDir dir;
  // One U8 byte puts the F32 at data offset 1; its value 1.0f must still come back.
  const std::string header = R"({"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                             R"("f":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}})";
  const std::string padded = header + std::string((8 - header.size() % 8) % 8, ' ');
  const File file = File::open(write_raw(dir, padded, std::string("\x07\x00\x00\x80\x3f", 5)));
  EXPECT_EQ(file.tensor("f").item<float>(), 1.f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(file.tensor("f").data_ptr()) % alignof(float), 0u);
  EXPECT_EQ(file.tensor("b").item<uint8_t>(), 7);
}

TEST(Safetensors, EmptyHeaderWithNoDataIsLegal) {
  TempDir dir;
  const File file = File::open(write_raw(dir, "{}", ""));
  EXPECT_TRUE(file.tensors().empty());
  EXPECT_TRUE(file.metadata().empty());
}

TEST(Safetensors, ZeroSizeTensorsMayShareAnOffset) {
  TempDir dir;
  const std::string path = write_raw(dir,
                                     R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
                                     R"("b":{"dtype":"I8","shape":[2,0],"data_offsets":[0,0]},)"
                                     R"("c":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
                                     "x");
  const File file = File::open(path);
  EXPECT_EQ(file.tensor("b").sizes(), at::IntArrayRef({2, 0}));
  EXPECT_EQ(file.tensor("c").item<uint8_t>(), 'x');
}

// ---- Zero copy -------------------------------------------------------------------------------

TEST(Safetensors, TensorsAreZeroCopyViewsOfTheMapping) {
  TempDir dir;
  save(dir.file("v.safetensors"), {{"w", torch::randn({64})}});
  const File file = File::open(dir.file("v.safetensors"));
  const at::Tensor first = file.tensor("w"), second = file.tensor("w");
  EXPECT_EQ(first.data_ptr(), second.data_ptr());  // a copy would get fresh memory each call
}

TEST(Safetensors, TensorsOutliveTheirFile) {
  TempDir dir;
  const at::Tensor expected = torch::randn({1000});
  save(dir.file("v.safetensors"), {{"w", expected}});
  at::Tensor view;
  { view = File::open(dir.file("v.safetensors")).tensor("w"); }  // File and its handle gone
  expect_bit_exact(view, expected);
}

TEST(Safetensors, InPlaceWritesNeverReachTheFile) {
  TempDir dir;
  save(dir.file("v.safetensors"), {{"w", torch::ones({8})}});
  File::open(dir.file("v.safetensors")).tensor("w").mul_(7);  // copy-on-write pages
  EXPECT_TRUE(torch::equal(File::open(dir.file("v.safetensors")).tensor("w"), torch::ones({8})));
}

// ---- save() refusals -------------------------------------------------------------------------

TEST(Safetensors, UnknownTensorNameIsAnError) {
  TempDir dir;
  save(dir.file("u.safetensors"), {{"w", torch::ones({1})}});
  try {
    File::open(dir.file("u.safetensors")).tensor("v");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    expect_mentions(e.what(), {dir.file("u.safetensors"), "no tensor named 'v'", "e.g. 'w'"});
  }
}

TEST(Safetensors, SaveRejectsDuplicateNames) {
  TempDir dir;
  EXPECT_THROW(save(dir.file("d.safetensors"), {{"w", torch::ones({1})}, {"w", torch::ones({2})}}),
               Error);
  EXPECT_FALSE(fs::exists(dir.file("d.safetensors")));
  EXPECT_FALSE(fs::exists(dir.file("d.safetensors.tmp")));
}

TEST(Safetensors, SaveRejectsUnsupportedDtypesAndTheReservedName) {
  TempDir dir;
  try {
    save(dir.file("c.safetensors"), {{"z", torch::ones({1}, at::kComplexFloat)}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    expect_mentions(e.what(), {"tensor 'z'", "ComplexFloat", "BF16"});
  }
  EXPECT_THROW(save(dir.file("r.safetensors"), {{"__metadata__", torch::ones({1})}}), Error);
}

TEST(Safetensors, SaveReplacesAnExistingFileAndLeavesNoTmp) {
  TempDir dir;
  save(dir.file("w.safetensors"), {{"old", torch::ones({1})}});
  save(dir.file("w.safetensors"), {{"new", torch::ones({1})}});
  EXPECT_NE(File::open(dir.file("w.safetensors")).find("new"), nullptr);
  EXPECT_EQ(File::open(dir.file("w.safetensors")).find("old"), nullptr);
  EXPECT_FALSE(fs::exists(dir.file("w.safetensors.tmp")));
}

// ---- Checkpoints -----------------------------------------------------------------------------

std::vector<std::pair<std::string, at::Tensor>> small_model() {
  torch::manual_seed(1);
  return {{"model.embed_tokens.weight", torch::randn({16, 8}).to(at::kBFloat16)},  // 256 bytes
          {"model.layers.0.mlp.up_proj.weight", torch::randn({8, 8})},             // 256 bytes
          {"model.layers.0.input_layernorm.weight", torch::randn({8})},            // 32 bytes
          {"lm_head.weight", torch::randn({16, 8}).to(at::kBFloat16)}};            // 256 bytes
}

TEST(Safetensors, ShardedCheckpointHoldsTheSameTensors) {
  TempDir dir;
  const auto tensors = small_model();
  save_checkpoint(dir.path(), tensors, /*max_shard_bytes=*/300);  // 800 bytes: shards of 256,
                                                                  // 288 (256 + 32), 256
  EXPECT_FALSE(fs::exists(dir.file("model.safetensors")));
  EXPECT_TRUE(fs::exists(dir.file("model-00003-of-00003.safetensors")));
  const auto index = nlohmann::json::parse(std::ifstream(dir.file("model.safetensors.index.json")));
  EXPECT_EQ(index["metadata"]["total_size"], 800);
  EXPECT_EQ(index["weight_map"]["lm_head.weight"], "model-00003-of-00003.safetensors");

  const Checkpoint checkpoint = Checkpoint::open(dir.path());
  ASSERT_EQ(checkpoint.names().size(), tensors.size());
  EXPECT_EQ(checkpoint.names().front(), "lm_head.weight");  // sorted
  for (const auto& [name, expected] : tensors) {
    SCOPED_TRACE(name);
    expect_bit_exact(checkpoint.tensor(name), expected);
    EXPECT_EQ(checkpoint.info(name).shape, expected.sizes().vec());
  }
  EXPECT_THROW(checkpoint.tensor("model.norm.weight"), Error);
}

TEST(Safetensors, SmallCheckpointIsOneFileWithFormatMetadata) {
  TempDir dir;
  save_checkpoint(dir.path(), small_model());
  EXPECT_TRUE(fs::exists(dir.file("model.safetensors")));
  EXPECT_FALSE(fs::exists(dir.file("model.safetensors.index.json")));
  EXPECT_EQ(File::open(dir.file("model.safetensors")).metadata().at("format"), "pt");
  EXPECT_EQ(Checkpoint::open(dir.path()).names().size(), 4u);
}

TEST(Safetensors, SaveCheckpointRemovesTheOtherLayout) {
  TempDir dir;
  save_checkpoint(dir.path(), small_model());  // model.safetensors
  auto changed = small_model();
  changed[0].second = changed[0].second + 1;
  save_checkpoint(dir.path(), changed, /*max_shard_bytes=*/300);  // would be shadowed by it
  EXPECT_FALSE(fs::exists(dir.file("model.safetensors")));
  expect_bit_exact(Checkpoint::open(dir.path()).tensor(changed[0].first), changed[0].second);

  save_checkpoint(dir.path(), small_model());
  EXPECT_FALSE(fs::exists(dir.file("model.safetensors.index.json")));
}

TEST(Safetensors, SaveCheckpointChecksEveryTensorBeforeWriting) {
  TempDir dir;
  auto tensors = small_model();
  tensors.emplace_back("lm_head.weight", torch::ones({1}));  // duplicate, in what'd be shard 4
  EXPECT_THROW(save_checkpoint(dir.path(), tensors, 300), Error);
  EXPECT_TRUE(directory_is_empty(dir.path()));
}

// ---- Malformed files: each fails on open with the path and the fault -------------------------

TEST(Safetensors, RejectsHeaderLengthOver100MB) {
  TempDir dir;
  write_file(dir.file("big"), le64(100'000'001) + "{}");
  expect_mentions(open_error(dir.file("big")),
                  {dir.file("big"), "header length 100000001", "limit of 100000000"});
}

TEST(Safetensors, RejectsFileShorterThan8Bytes) {
  TempDir dir;
  write_file(dir.file("short"), std::string("\x02\x00\x00", 3));
  expect_mentions(open_error(dir.file("short")), {dir.file("short"), "3 bytes", "8-byte"});
  write_file(dir.file("empty"), "");
  expect_mentions(open_error(dir.file("empty")), {"0 bytes"});
}

TEST(Safetensors, RejectsHeaderLengthPastTheFileEnd) {
  TempDir dir;
  write_file(dir.file("t"), le64(64) + "{\"a\":");  // a truncated download
  expect_mentions(open_error(dir.file("t")), {"header length 64", "(13 bytes)", "truncated"});
}

TEST(Safetensors, RejectsHeaderThatIsNotJson) {
  TempDir dir;
  expect_mentions(raw_error(dir, R"({"a": {"dtype": "F32",)", ""),
                  {"raw.safetensors: not valid JSON"});
  expect_mentions(raw_error(dir, "{\"\xff\": 1}", ""), {"not valid JSON"});  // invalid UTF-8
}

TEST(Safetensors, RejectsHeaderThatIsNotAnObject) {
  TempDir dir;
  expect_mentions(raw_error(dir, "[1, 2]", ""), {"header must be a JSON object, got array"});
}

TEST(Safetensors, RejectsTensorEntryThatIsNotAnObject) {
  TempDir dir;
  expect_mentions(raw_error(dir, R"({"w": [0, 4]})", "1234"),
                  {"tensor 'w': entry must be an object, got array"});
}

TEST(Safetensors, RejectsEntriesMissingAField) {
  TempDir dir;
  expect_mentions(raw_error(dir, R"({"w":{"shape":[1],"data_offsets":[0,4]}})", "1234"),
                  {"tensor 'w': missing 'dtype'"});
  expect_mentions(raw_error(dir, R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", "1234"),
                  {"tensor 'w': missing 'shape'"});
  expect_mentions(raw_error(dir, R"({"w":{"dtype":"F32","shape":[1]}})", "1234"),
                  {"tensor 'w': missing 'data_offsets'"});
}

TEST(Safetensors, RejectsWronglyTypedFields) {
  TempDir dir;
  expect_mentions(raw_error(dir, R"({"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", "1234"),
                  {"'dtype' must be a string, got 4"});
  expect_mentions(raw_error(dir, R"({"w":{"dtype":"F32","shape":1,"data_offsets":[0,4]}})", "1234"),
                  {"'shape' must be an array, got 1"});
  expect_mentions(
      raw_error(dir, R"({"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}})", "1234"),
      {"shape[0] must be an integer, got 1.0"});
  expect_mentions(
      raw_error(dir, R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", "1234"),
      {"'data_offsets' must be [begin, end], got [0,4,8]"});
  expect_mentions(
      raw_error(dir, R"({"w":{"dtype":"F32","shape":[1],"data_offsets":["0",4]}})", "1234"),
      {"data_offsets[0] must be an integer"});
}

TEST(Safetensors, RejectsUnknownEntryFields) {
  TempDir dir;
  expect_mentions(
      raw_error(dir, R"({"w":{"dtype":"F32","shape":[1],"data_offset":[0,4]}})", "1234"),
      {"tensor 'w': unknown field 'data_offset'"});
}

TEST(Safetensors, RejectsDataThatDoesNotStartAtZero) {
  TempDir dir;
  expect_mentions(
      raw_error(dir, R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", "12345678"),
      {"tensor 'w': data_offsets [4, 8] start at 4", "must start at 0"});
}

TEST(Safetensors, RejectsGapBetweenTensors) {
  TempDir dir;
  expect_mentions(raw_error(dir,
                            R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                            R"("b":{"dtype":"F32","shape":[1],"data_offsets":[6,10]}})",
                            "0123456789"),
                  {"tensor 'b': data_offsets [6, 10] leave a gap after the previous tensor 'a' "
                   "(ending at 4); expected contiguous data"});
}

TEST(Safetensors, RejectsOverlappingTensors) {
  TempDir dir;
  const std::string path = write_raw(dir,
                                     R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                     R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                     "01234567");
  expect_mentions(open_error(path),
                  {path + ": tensor 'b': data_offsets [4, 8] overlap the previous tensor 'a' "
                          "(ending at 8); expected contiguous data"});
}

TEST(Safetensors, RejectsBeginAfterEnd) {
  TempDir dir;
  expect_mentions(
      raw_error(dir, R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})", "1234"),
      {"tensor 'w': data_offsets [4, 0] have begin > end"});
}

TEST(Safetensors, RejectsEndBeyondTheFile) {
  TempDir dir;
  expect_mentions(
      raw_error(dir, R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", "12345678"),
      {"tensor 'w': data_offsets [0, 16] end beyond the data buffer (8 bytes)", "truncated"});
}

TEST(Safetensors, RejectsTrailingBytesAfterTheLastTensor) {
  TempDir dir;
  expect_mentions(
      raw_error(dir, R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "123456"),
      {"2 trailing bytes", "tensors end at 4", "the data buffer is 6 bytes"});
}

TEST(Safetensors, RejectsUnknownDtype) {
  TempDir dir;
  expect_mentions(
      raw_error(dir, R"({"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", "1"),
      {"tensor 'w': unknown dtype 'F8_E4M3'", "F64, F32, F16, BF16"});
}

TEST(Safetensors, RejectsSizeThatDisagreesWithShapeTimesDtype) {
  TempDir dir;
  expect_mentions(raw_error(dir, R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})",
                            std::string(20, 'x')),
                  {"tensor 'w': shape [2, 3] × F32 (4 bytes) = 24 bytes", "span 20 bytes"});
}

TEST(Safetensors, RejectsNegativeDims) {
  TempDir dir;
  expect_mentions(
      raw_error(dir, R"({"w":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,0]}})", ""),
      {"tensor 'w': shape[1] is -1; expected >= 0"});
}

TEST(Safetensors, RejectsShapeWhoseProductOverflows) {
  TempDir dir;
  // 2^32 × 2^32 elements wrap to 0 in 64 bits and would match the empty range without the check.
  expect_mentions(raw_error(dir,
                            R"({"w":{"dtype":"U8","shape":[4294967296,4294967296],)"
                            R"("data_offsets":[0,0]}})",
                            ""),
                  {"tensor 'w': shape [4294967296,4294967296] overflows"});
  // 2^62 × 4 bytes fits in elements but not in bytes.
  expect_mentions(raw_error(dir,
                            R"({"w":{"dtype":"F32","shape":[4611686018427387904],)"
                            R"("data_offsets":[0,0]}})",
                            ""),
                  {"overflows: its byte count"});
}

TEST(Safetensors, RejectsDuplicateTensorNames) {
  TempDir dir;
  expect_mentions(raw_error(dir,
                            R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                            R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                            "12"),
                  {"duplicate key 'w'"});
}

TEST(Safetensors, RejectsDuplicateKeysInsideAnEntry) {
  TempDir dir;
  expect_mentions(
      raw_error(dir, R"({"w":{"dtype":"U8","dtype":"F32","shape":[1],"data_offsets":[0,1]}})", "1"),
      {"duplicate key 'dtype'"});
}

TEST(Safetensors, RejectsNonStringMetadataValues) {
  TempDir dir;
  expect_mentions(raw_error(dir, R"({"__metadata__":{"format":"pt","step":12}})", ""),
                  {"__metadata__ 'step' must be a string, got 12"});
  expect_mentions(raw_error(dir, R"({"__metadata__":"pt"})", ""),
                  {"__metadata__ must be an object"});
}

TEST(Safetensors, RejectsDeeplyNestedJson) {
  TempDir dir;
  const std::string nested = "{\"w\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  expect_mentions(raw_error(dir, nested, ""), {"JSON nests deeper than 3 levels"});
}

TEST(Safetensors, RejectsBoolBytesOtherThanZeroOrOne) {
  TempDir dir;
  const File file =
      File::open(write_raw(dir, R"({"b":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})",
                           std::string("\x01\x00\x02", 3)));
  try {
    file.tensor("b");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    expect_mentions(e.what(), {"tensor 'b': BOOL element 2 is 2; expected 0 or 1"});
  }
}

// ---- Malformed model directories -------------------------------------------------------------

void write_index(const TempDir& dir, const std::string& weight_map) {
  write_file(dir.file("model.safetensors.index.json"),
             R"({"metadata":{"total_size":4},"weight_map":)" + weight_map + "}");
}

TEST(Safetensors, RejectsShardPathsOutsideTheModelDirectory) {
  TempDir dir;
  save(dir.file("shard.safetensors"), {{"w", torch::ones({1})}});
  for (const std::string shard : {"../shard.safetensors", "/etc/passwd", "sub/../../x", ""}) {
    SCOPED_TRACE(shard);
    write_index(dir, R"({"w":")" + shard + R"("})");
    expect_mentions(checkpoint_error(dir.path()),
                    {"model.safetensors.index.json", "tensor 'w' in '" + shard + "'",
                     "not a file inside the model directory"});
  }
}

TEST(Safetensors, RejectsIndexNamingAMissingShard) {
  TempDir dir;
  write_index(dir, R"({"w":"model-00001-of-00002.safetensors"})");
  expect_mentions(checkpoint_error(dir.path()),
                  {"tensor 'w' in 'model-00001-of-00002.safetensors'", "does not exist"});
}

TEST(Safetensors, RejectsIndexNamingATensorTheShardLacks) {
  TempDir dir;
  save(dir.file("shard.safetensors"), {{"w", torch::ones({1})}});
  write_index(dir, R"({"w":"shard.safetensors","v":"shard.safetensors"})");
  expect_mentions(checkpoint_error(dir.path()),
                  {"tensor 'v' in 'shard.safetensors', which has no such tensor"});
}

TEST(Safetensors, RejectsIndexWithoutAWeightMap) {
  TempDir dir;
  write_file(dir.file("model.safetensors.index.json"), R"({"metadata":{}})");
  expect_mentions(checkpoint_error(dir.path()), {"index.json", "\"weight_map\""});
}

TEST(Safetensors, RejectsDirectoryWithNeitherFile) {
  TempDir dir;
  expect_mentions(checkpoint_error(dir.path()),
                  {dir.path(), "neither model.safetensors nor model.safetensors.index.json"});
  expect_mentions(checkpoint_error(dir.file("absent")), {"not a directory"});
}

}  // namespace
}  // namespace retort::safetensors
