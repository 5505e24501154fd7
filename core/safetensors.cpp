// safetensors reading (parse + mmap) and writing (atomic save, sharded checkpoints).
// Format: https://github.com/huggingface/safetensors#format. The validation rules follow the
// reference Rust crate: header at most 100 MB, tensors contiguous from offset 0 in offset order,
// each range exactly shape × dtype bytes, nothing after the last one. Beyond it, duplicate JSON
// keys are rejected (nlohmann would silently keep the last) and so are unknown tensor fields.
#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace retort::safetensors {

using nlohmann::json;

// Tensor bytes are copied between the file and memory as they are; safetensors is little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a LE host");

namespace {

// The reference implementation's limit; a real header is a few hundred KB even for 1000 tensors.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// A valid header nests 3 deep (root, entry, shape); anything deeper is hostile and is stopped
// before nlohmann builds it.
constexpr size_t kMaxJsonDepth = 3;
constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

struct DTypeRow {
  DType dtype;
  const char* name;
  size_t size_bytes;
  c10::ScalarType scalar_type;
};

// In enum order, so that a DType indexes its row.
constexpr DTypeRow kDTypes[] = {
    {DType::kF64, "F64", 8, c10::ScalarType::Double},
    {DType::kF32, "F32", 4, c10::ScalarType::Float},
    {DType::kF16, "F16", 2, c10::ScalarType::Half},
    {DType::kBF16, "BF16", 2, c10::ScalarType::BFloat16},
    {DType::kI64, "I64", 8, c10::ScalarType::Long},
    {DType::kI32, "I32", 4, c10::ScalarType::Int},
    {DType::kI16, "I16", 2, c10::ScalarType::Short},
    {DType::kI8, "I8", 1, c10::ScalarType::Char},
    {DType::kU8, "U8", 1, c10::ScalarType::Byte},
    {DType::kBool, "BOOL", 1, c10::ScalarType::Bool},
};

constexpr bool rows_in_enum_order() {
  for (size_t i = 0; i < std::size(kDTypes); ++i) {
    if (static_cast<size_t>(kDTypes[i].dtype) != i) return false;
  }
  return true;
}
static_assert(rows_in_enum_order(), "kDTypes must list DType values in declaration order");

const DTypeRow& row(DType dtype) {
  return kDTypes[static_cast<size_t>(dtype)];
}

std::string known_dtype_names() {
  std::string names;
  for (const DTypeRow& r : kDTypes) names += std::string(names.empty() ? "" : ", ") + r.name;
  return names;
}

// A JSON value for an error message, cut short: a hostile header can put megabytes in one field.
std::string excerpt(const json& value) {
  const std::string text = value.dump();
  return text.size() <= 64 ? text : text.substr(0, 60) + " ...";
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

// Parses JSON text, rejecting duplicate keys at any level and nesting deeper than max_depth.
// The callback sees every key before nlohmann's object drops the earlier duplicate.
json parse_json_strict(const char* begin, const char* end, size_t max_depth,
                       const std::string& what) {
  std::vector<std::set<std::string>> keys_per_object;  // one set per open object
  size_t depth = 0;
  auto callback = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (++depth > max_depth) {
          fail(what, ": JSON nests deeper than ", max_depth,
               " levels, which the format never needs");
        }
        if (event == json::parse_event_t::object_start) keys_per_object.emplace_back();
        break;
      case json::parse_event_t::object_end:
        keys_per_object.pop_back();
        --depth;
        break;
      case json::parse_event_t::array_end:
        --depth;
        break;
      case json::parse_event_t::key:
        if (!keys_per_object.back().insert(parsed.get<std::string>()).second) {
          fail(what, ": duplicate key '", parsed.get<std::string>(), "' in the JSON");
        }
        break;
      case json::parse_event_t::value:
        break;
    }
    return true;
  };
  try {
    return json::parse(begin, end, callback);
  } catch (const json::exception& e) {
    fail(what, ": not valid JSON: ", e.what());
  }
}

const json& field(const json& entry, const char* key, const std::string& where) {
  auto it = entry.find(key);
  if (it == entry.end()) fail(where, ": missing '", key, "'");
  return *it;
}

// A non-negative JSON integer; nlohmann stores those as number_unsigned.
uint64_t unsigned_value(const json& value, const std::string& where) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer()) fail(where, " is ", excerpt(value), "; expected >= 0");
  fail(where, " must be an integer, got ", excerpt(value));
}

TensorInfo parse_entry(const std::string& name, const json& entry, const std::string& what) {
  const std::string where = c10::str(what, ": tensor '", name, "'");
  if (!entry.is_object()) fail(where, ": entry must be an object, got ", entry.type_name());
  for (const auto& item : entry.items()) {
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets") {
      fail(where, ": unknown field '", item.key(), "'; expected dtype, shape and data_offsets");
    }
  }
  TensorInfo info;
  info.name = name;

  const json& dtype = field(entry, "dtype", where);
  if (!dtype.is_string()) fail(where, ": 'dtype' must be a string, got ", excerpt(dtype));
  std::optional<DType> parsed = dtype_from_name(dtype.get<std::string>());
  if (!parsed) {
    fail(where, ": unknown dtype '", dtype.get<std::string>(), "'; retort reads ",
         known_dtype_names());
  }
  info.dtype = *parsed;

  const json& shape = field(entry, "shape", where);
  if (!shape.is_array()) fail(where, ": 'shape' must be an array, got ", excerpt(shape));
  // Strides are products of max(dim, 1), so those must fit in int64 even when a dim is 0.
  uint64_t stride_product = 1;
  bool has_zero_dim = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    const uint64_t dim = unsigned_value(shape[i], c10::str(where, ": shape[", i, "]"));
    if (dim > uint64_t(INT64_MAX) ||
        __builtin_mul_overflow(stride_product, std::max<uint64_t>(dim, 1), &stride_product) ||
        stride_product > uint64_t(INT64_MAX)) {
      fail(where, ": shape ", excerpt(shape), " overflows: its element count exceeds 2^63");
    }
    has_zero_dim |= dim == 0;
    info.shape.push_back(static_cast<int64_t>(dim));
  }
  const uint64_t numel = has_zero_dim ? 0 : stride_product;
  uint64_t size_bytes = 0;
  if (__builtin_mul_overflow(numel, dtype_size_bytes(info.dtype), &size_bytes)) {
    fail(where, ": shape ", excerpt(shape), " × ", dtype_name(info.dtype),
         " overflows: its byte count exceeds 2^64");
  }

  const json& offsets = field(entry, "data_offsets", where);
  if (!offsets.is_array() || offsets.size() != 2) {
    fail(where, ": 'data_offsets' must be [begin, end], got ", excerpt(offsets));
  }
  info.begin = unsigned_value(offsets[0], where + ": data_offsets[0]");
  info.end = unsigned_value(offsets[1], where + ": data_offsets[1]");
  if (info.begin > info.end) {
    fail(where, ": data_offsets [", info.begin, ", ", info.end, "] have begin > end");
  }
  if (info.end - info.begin != size_bytes) {
    fail(where, ": shape ", shape_str(info.shape), " × ", dtype_name(info.dtype), " (",
         dtype_size_bytes(info.dtype), " bytes) = ", size_bytes, " bytes, but data_offsets [",
         info.begin, ", ", info.end, "] span ", info.end - info.begin, " bytes");
  }
  return info;
}

// Tensors sorted by offset must tile [0, data_bytes) exactly: no gap, no overlap, no tail.
void check_layout(const std::vector<TensorInfo>& tensors, uint64_t data_bytes,
                  const std::string& what) {
  uint64_t expected_begin = 0;
  const TensorInfo* previous = nullptr;
  for (const TensorInfo& t : tensors) {
    const std::string where =
        c10::str(what, ": tensor '", t.name, "': data_offsets [", t.begin, ", ", t.end, "]");
    if (previous == nullptr && t.begin != 0) {
      fail(where, " start at ", t.begin, ", but the first tensor must start at 0; expected ",
           "contiguous data");
    }
    if (t.begin < expected_begin) {
      fail(where, " overlap the previous tensor '", previous->name, "' (ending at ", expected_begin,
           "); expected contiguous data");
    }
    if (t.begin > expected_begin) {
      fail(where, " leave a gap after the previous tensor '", previous->name, "' (ending at ",
           expected_begin, "); expected contiguous data");
    }
    if (t.end > data_bytes) {
      fail(where, " end beyond the data buffer (", data_bytes, " bytes); is the file truncated?");
    }
    expected_begin = t.end;
    previous = &t;
  }
  if (expected_begin != data_bytes) {
    fail(what, ": ", data_bytes - expected_begin, " trailing bytes after the last tensor's data (",
         "tensors end at ", expected_begin, ", the data buffer is ", data_bytes, " bytes)");
  }
}

std::string errno_str() {
  return std::strerror(errno);
}

// Reads a small text file (an index.json) whole, refusing anything over max_bytes.
std::string read_text_file(const std::string& path, uint64_t max_bytes) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) fail(path, ": cannot read: ", ec.message());
  if (size > max_bytes) fail(path, ": ", size, " bytes; expected at most ", max_bytes);
  std::ifstream in(path, std::ios::binary);
  std::string text(size, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(size))) fail(path, ": cannot read");
  return text;
}

// An index.json shard path must stay inside the model directory. Checked on the text alone: the
// directory itself may be full of symlinks (the Hugging Face cache points snapshots at blobs).
void check_shard_path(const std::string& shard, const std::string& index_path,
                      const std::string& name) {
  const std::filesystem::path path(shard);
  bool escapes = shard.empty() || path.is_absolute();
  for (const auto& part : path) escapes |= part == "..";
  if (escapes) {
    fail(index_path, ": weight_map puts tensor '", name, "' in '", shard,
         "', which is not a file inside the model directory");
  }
}

void write_all(int fd, const void* data, size_t size_bytes, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (size_bytes > 0) {
    const ssize_t n = ::write(fd, p, size_bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(path, ": write failed: ", errno_str());
    p += n;
    size_bytes -= static_cast<size_t>(n);
  }
}

// Writes "<path>.tmp" through write_body, fsyncs it and renames it over path, so a reader sees
// the old file or the new one, never half of one. The tmp file is removed on failure.
template <typename WriteBody>
void write_atomically(const std::string& path, WriteBody&& write_body) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(tmp, ": cannot create: ", errno_str());
  try {
    write_body(fd, tmp);
    if (::fsync(fd) != 0) fail(tmp, ": fsync failed: ", errno_str());
    if (::close(fd) != 0) {
      ::unlink(tmp.c_str());
      fail(tmp, ": close failed: ", errno_str());
    }
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_str();
    ::unlink(tmp.c_str());
    fail(path, ": cannot rename ", tmp, " over it: ", why);
  }
  // Makes the rename itself durable. Best effort: some filesystems refuse fsync on a directory.
  std::string dir = std::filesystem::path(path).parent_path().string();
  const int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

uint64_t tensor_bytes(const at::Tensor& t) {
  return static_cast<uint64_t>(t.numel()) * static_cast<uint64_t>(t.element_size());
}

// "model-00002-of-00005.safetensors", the names transformers gives shards.
std::string shard_file_name(size_t number, size_t count) {
  char name[64];
  std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", number, count);
  return name;
}

// Checks what save() can refuse before anything is written and returns each tensor's dtype.
std::vector<DType> check_tensors(const std::string& path,
                                 const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  std::vector<DType> dtypes;
  std::set<std::string> names;
  for (const auto& [name, tensor] : tensors) {
    const std::string where = c10::str(path, ": tensor '", name, "'");
    if (name == "__metadata__") fail(where, ": the name is reserved for the file's metadata");
    if (!names.insert(name).second) fail(where, ": duplicate name; names must be unique");
    if (!tensor.defined()) fail(where, ": undefined tensor");
    if (tensor.layout() != at::kStrided) fail(where, ": layout ", tensor.layout(), " unsupported");
    const std::optional<DType> dtype = dtype_from_scalar_type(tensor.scalar_type());
    if (!dtype) {
      fail(where, ": dtype ", tensor.scalar_type(), " has no safetensors name retort writes; ",
           "expected one of ", known_dtype_names());
    }
    dtypes.push_back(*dtype);
  }
  return dtypes;
}

void remove_if_present(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (ec) fail(path.string(), ": cannot remove stale file: ", ec.message());
}

}  // namespace

const char* dtype_name(DType dtype) {
  return row(dtype).name;
}

std::optional<DType> dtype_from_name(const std::string& name) {
  for (const DTypeRow& r : kDTypes) {
    if (name == r.name) return r.dtype;
  }
  return std::nullopt;
}

size_t dtype_size_bytes(DType dtype) {
  return row(dtype).size_bytes;
}

c10::ScalarType scalar_type(DType dtype) {
  return row(dtype).scalar_type;
}

std::optional<DType> dtype_from_scalar_type(c10::ScalarType type) {
  for (const DTypeRow& r : kDTypes) {
    if (type == r.scalar_type) return r.dtype;
  }
  return std::nullopt;
}

Header parse(const uint8_t* bytes, size_t size_bytes, const std::string& what) {
  if (size_bytes < 8) {
    fail(what, ": file is ", size_bytes,
         " bytes, shorter than the 8-byte header length; not a safetensors file?");
  }
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = (header_bytes << 8) | bytes[i];
  if (header_bytes > kMaxHeaderBytes) {
    fail(what, ": header length ", header_bytes, " bytes exceeds the limit of ", kMaxHeaderBytes,
         "; not a safetensors file?");
  }
  if (header_bytes > size_bytes - 8) {
    fail(what, ": header length ", header_bytes, " bytes runs past the end of the file (",
         size_bytes, " bytes); is the file truncated?");
  }
  const char* text = reinterpret_cast<const char*>(bytes + 8);
  const json root = parse_json_strict(text, text + header_bytes, kMaxJsonDepth, what);
  if (!root.is_object()) fail(what, ": header must be a JSON object, got ", root.type_name());

  Header header;
  header.data_start_bytes = 8 + header_bytes;
  for (const auto& [key, value] : root.items()) {
    if (key != "__metadata__") {
      header.tensors.push_back(parse_entry(key, value, what));
      continue;
    }
    if (!value.is_object()) fail(what, ": __metadata__ must be an object, got ", excerpt(value));
    for (const auto& [meta_key, meta_value] : value.items()) {
      if (!meta_value.is_string()) {
        fail(what, ": __metadata__ '", meta_key, "' must be a string, got ", excerpt(meta_value));
      }
      header.metadata[meta_key] = meta_value.get<std::string>();
    }
  }
  // Zero-size tensors share offsets with their neighbours; names break the tie.
  std::sort(header.tensors.begin(), header.tensors.end(), [](const auto& a, const auto& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  check_layout(header.tensors, size_bytes - header.data_start_bytes, what);
  return header;
}

// ---- File ------------------------------------------------------------------------------------

// MAP_PRIVATE with PROT_WRITE: writes through a tensor view go to private copy-on-write pages
// instead of faulting on read-only memory, as torch's UntypedStorage.from_file(shared=False).
struct File::Mapping {
  void* addr = nullptr;
  size_t size_bytes = 0;
  ~Mapping() {
    if (addr != nullptr) ::munmap(addr, size_bytes);
  }
};

File File::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, ": cannot open: ", errno_str());
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, ": not a regular file");
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->size_bytes = static_cast<size_t>(st.st_size);
  if (mapping->size_bytes >= 8) {  // mmap refuses a length of 0; parse() reports short files
    void* addr = ::mmap(nullptr, mapping->size_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      const std::string why = errno_str();
      ::close(fd);
      fail(path, ": mmap of ", mapping->size_bytes, " bytes failed: ", why);
    }
    mapping->addr = addr;
  }
  ::close(fd);  // the mapping holds its own reference to the file

  File file;
  file.path_ = path;
  file.header_ = parse(static_cast<const uint8_t*>(mapping->addr), mapping->size_bytes, path);
  file.mapping_ = std::move(mapping);
  for (size_t i = 0; i < file.header_.tensors.size(); ++i) {
    file.index_.emplace(file.header_.tensors[i].name, i);
  }
  return file;
}

const TensorInfo* File::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

at::Tensor File::tensor(const std::string& name) const {
  const TensorInfo* info = find(name);
  if (info == nullptr) {
    fail(path_, ": no tensor named '", name, "' (the file has ", header_.tensors.size(), " tensors",
         header_.tensors.empty() ? "" : ", e.g. '" + header_.tensors[0].name + "'", ")");
  }
  uint8_t* data = static_cast<uint8_t*>(mapping_->addr) + header_.data_start_bytes + info->begin;
  const uint64_t size_bytes = info->end - info->begin;
  const auto options = at::TensorOptions().dtype(scalar_type(info->dtype));
  // A bool byte other than 0 or 1 is undefined behaviour in the kernels that read it.
  if (info->dtype == DType::kBool) {
    const uint8_t* bad = std::find_if(data, data + size_bytes, [](uint8_t b) { return b > 1; });
    if (bad != data + size_bytes) {
      fail(path_, ": tensor '", name, "': BOOL element ", bad - data, " is ", int(*bad),
           "; expected 0 or 1");
    }
  }
  if (reinterpret_cast<uintptr_t>(data) % dtype_size_bytes(info->dtype) != 0) {
    at::Tensor copy = torch::empty(info->shape, options);
    std::memcpy(copy.data_ptr(), data, size_bytes);
    return copy;
  }
  std::shared_ptr<Mapping> keep_alive = mapping_;
  return torch::from_blob(
      data, info->shape, [keep_alive](void*) {}, options);
}

// ---- Checkpoint ------------------------------------------------------------------------------

Checkpoint Checkpoint::open(const std::string& dir) {
  namespace fs = std::filesystem;
  Checkpoint checkpoint;
  checkpoint.dir_ = dir;
  if (!fs::is_directory(dir)) fail(dir, ": not a directory");
  const fs::path single = fs::path(dir) / kSingleFile;
  const fs::path index_path = fs::path(dir) / kIndexFile;

  if (fs::exists(single)) {
    checkpoint.shards_.push_back(File::open(single.string()));
    const File& file = checkpoint.shards_.back();
    for (size_t i = 0; i < file.tensors().size(); ++i) {
      checkpoint.where_[file.tensors()[i].name] = {0, i};
    }
    return checkpoint;
  }
  if (!fs::exists(index_path)) {
    fail(dir, ": neither ", kSingleFile, " nor ", kIndexFile,
         " found; expected a Hugging Face model directory");
  }

  const std::string where = index_path.string();
  const std::string text = read_text_file(where, kMaxHeaderBytes);
  const json index = parse_json_strict(text.data(), text.data() + text.size(), 8, where);
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    fail(where, ": expected {\"metadata\": {...}, \"weight_map\": {tensor: shard file}}");
  }
  std::map<std::string, size_t> shard_positions;  // shard file -> position in shards_
  for (const auto& [name, shard_json] : index["weight_map"].items()) {
    if (!shard_json.is_string()) {
      fail(where, ": weight_map entry for '", name, "' must be a file name, got ",
           excerpt(shard_json));
    }
    const std::string shard = shard_json.get<std::string>();
    check_shard_path(shard, where, name);
    auto [it, inserted] = shard_positions.emplace(shard, checkpoint.shards_.size());
    if (inserted) {
      const fs::path shard_path = fs::path(dir) / shard;
      if (!fs::is_regular_file(shard_path)) {
        fail(where, ": weight_map puts tensor '", name, "' in '", shard, "', but ",
             shard_path.string(), " does not exist or is not a file");
      }
      checkpoint.shards_.push_back(File::open(shard_path.string()));
    }
    const File& file = checkpoint.shards_[it->second];
    const TensorInfo* info = file.find(name);
    if (info == nullptr) {
      fail(where, ": weight_map puts tensor '", name, "' in '", shard,
           "', which has no such tensor");
    }
    checkpoint.where_[name] = {it->second, static_cast<size_t>(info - file.tensors().data())};
  }
  return checkpoint;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> names;
  for (const auto& [name, where] : where_) names.push_back(name);
  return names;
}

std::pair<size_t, size_t> Checkpoint::locate(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) {
    fail(dir_, ": no tensor named '", name, "' in the checkpoint (", where_.size(), " tensors)");
  }
  return it->second;
}

const TensorInfo& Checkpoint::info(const std::string& name) const {
  const auto [shard, position] = locate(name);
  return shards_[shard].tensors()[position];
}

at::Tensor Checkpoint::tensor(const std::string& name) const {
  return shards_[locate(name).first].tensor(name);
}

// ---- Writing ---------------------------------------------------------------------------------

void save(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
          const std::map<std::string, std::string>& metadata) {
  struct Entry {
    const std::string* name;
    const at::Tensor* tensor;
    DType dtype;
  };
  const std::vector<DType> dtypes = check_tensors(path, tensors);
  std::vector<Entry> entries;
  for (size_t i = 0; i < tensors.size(); ++i) {
    entries.push_back({&tensors[i].first, &tensors[i].second, dtypes[i]});
  }
  // Largest elements first: with the header padded to 8 bytes, every tensor starts aligned.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    const size_t a_size = dtype_size_bytes(a.dtype), b_size = dtype_size_bytes(b.dtype);
    return a_size != b_size ? a_size > b_size : *a.name < *b.name;
  });

  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const Entry& e : entries) {
    const uint64_t size_bytes = tensor_bytes(*e.tensor);
    header[*e.name] = {{"dtype", dtype_name(e.dtype)},
                       {"shape", e.tensor->sizes().vec()},
                       {"data_offsets", {offset, offset + size_bytes}}};
    offset += size_bytes;
  }
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(uint64_t(text.size()) >> (8 * i));

  write_atomically(path, [&](int fd, const std::string& tmp) {
    write_all(fd, length, sizeof(length), tmp);
    write_all(fd, text.data(), text.size(), tmp);
    for (const Entry& e : entries) {
      // One tensor at a time, so a CUDA model needs host memory for its largest tensor only.
      const at::Tensor cpu = e.tensor->detach().to(at::kCPU).contiguous();
      if (cpu.numel() > 0) write_all(fd, cpu.data_ptr(), tensor_bytes(cpu), tmp);
    }
  });
}

void save_checkpoint(const std::string& dir,
                     const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                     uint64_t max_shard_bytes, const std::map<std::string, std::string>& metadata) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(dir, ": cannot create directory: ", ec.message());
  check_tensors(dir, tensors);  // before any shard is written

  // Greedy in the given order, as transformers' sharding: a new shard starts when the next
  // tensor would push the current one past max_shard_bytes.
  std::vector<std::vector<std::pair<std::string, at::Tensor>>> shards(1);
  uint64_t shard_bytes = 0, total_bytes = 0;
  for (const auto& named : tensors) {
    const uint64_t size_bytes = tensor_bytes(named.second);
    if (!shards.back().empty() && shard_bytes + size_bytes > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(named);
    shard_bytes += size_bytes;
    total_bytes += size_bytes;
  }

  if (total_bytes <= max_shard_bytes) {
    save((fs::path(dir) / kSingleFile).string(), tensors, metadata);
    remove_if_present(fs::path(dir) / kIndexFile);
    return;
  }
  json weight_map = json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string file = shard_file_name(i + 1, shards.size());
    save((fs::path(dir) / file).string(), shards[i], metadata);
    for (const auto& named : shards[i]) weight_map[named.first] = file;
  }
  // While a model.safetensors exists, Checkpoint::open (like transformers) reads it and would
  // ignore the new shards; it goes before the index appears.
  remove_if_present(fs::path(dir) / kSingleFile);
  const json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
  const std::string text = index.dump(2) + "\n";
  write_atomically((fs::path(dir) / kIndexFile).string(), [&](int fd, const std::string& tmp) {
    write_all(fd, text.data(), text.size(), tmp);
  });
}

}  // namespace retort::safetensors
