// ConfigRegistry: the kinds of one component, by their config names.
//
// Models, source types, record formats, sparse and dense optimizers and table
// eviction policies each have a registry. A kind registers its name (the
// value of the section's type key: `model: {type: deepfm}`, `optimizer:
// adagrad`, `source: {format: csv}`), the keys of the section it reads, and a
// function that reads those keys into the spec, applying its defaults and
// checking its ranges. A registry may also have a common part: keys every kind
// of it accepts, read before the kind's own.
//
// base/config never names a kind: it hands a section to the registry, which
// looks the kind up ("unknown model 'x'; expected one of lr, fm, ..." when it
// is not registered), rejects keys no kind of the registry knows, warns about
// keys that only other kinds read, and runs the readers. The kinds are
// registered by their components (model/model_config.cc,
// optim/optimizer_config.cc, data/source_config.cc,
// table/eviction_config.cc) before main(), in every
// binary that links the component's layer (base/config_kinds.h says how).
//
// Thread safety: Register() and the reads may run concurrently (a Mutex guards
// the kinds); registered kinds are never removed, so pointers returned by
// Find() stay valid.
#ifndef FRESHET_BASE_CONFIG_REGISTRY_H_
#define FRESHET_BASE_CONFIG_REGISTRY_H_

#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "freshet/base/config_section.h"
#include "freshet/base/logging.h"
#include "freshet/base/mutex.h"
#include "freshet/base/status_macros.h"

namespace freshet {

// "a or b" for two names, "one of a, b, c" for more.
std::string ExpectedOneOf(const std::vector<std::string>& names);

template <typename Spec>
class ConfigRegistry {
 public:
  using Reader = std::function<absl::Status(const ConfigSection&, Spec*)>;

  struct Kind {
    std::string name;
    std::vector<std::string> keys;  // section keys this kind reads
    Reader read;                    // reads and validates them
  };

  // `what` names the kind in messages ("model", "optimizer", "source type");
  // `type_key` is the section key holding the kind's name and `type_field` the
  // spec member it is stored in.
  ConfigRegistry(std::string what, std::string type_key,
                 std::string Spec::*type_field)
      : what_(std::move(what)),
        type_key_(std::move(type_key)),
        type_field_(type_field) {}

  ConfigRegistry(const ConfigRegistry&) = delete;
  ConfigRegistry& operator=(const ConfigRegistry&) = delete;

  // Keys every kind accepts and their reader, run before the kind's (it may
  // be empty). Replaces an earlier common part.
  void SetCommon(std::vector<std::string> keys, Reader read) {
    MutexLock lock(&mu_);
    common_keys_ = std::move(keys);
    common_read_ = std::move(read);
  }

  // Adds a kind; registering a name twice replaces nothing and returns an
  // AlreadyExists error.
  absl::Status Register(Kind kind) {
    MutexLock lock(&mu_);
    for (const Kind& k : kinds_) {
      if (k.name == kind.name) {
        return absl::AlreadyExistsError(
            absl::StrCat(what_, " '", kind.name, "' is already registered"));
      }
    }
    kinds_.push_back(std::move(kind));
    return absl::OkStatus();
  }

  // The kind named `name`, or nullptr.
  const Kind* Find(std::string_view name) const {
    MutexLock lock(&mu_);
    for (const Kind& k : kinds_) {
      if (k.name == name) return &k;
    }
    return nullptr;
  }

  // True when no kind is registered: the binary does not link the component,
  // and its sections are left unread (nothing in the binary could use them),
  // so that tests of lower layers can still load whole job files.
  bool empty() const {
    MutexLock lock(&mu_);
    return kinds_.empty();
  }

  // Registered names, in registration order.
  std::vector<std::string> Names() const {
    MutexLock lock(&mu_);
    std::vector<std::string> names;
    for (const Kind& k : kinds_) names.push_back(k.name);
    return names;
  }

  // Every key a section of this registry may hold: the type key, the common
  // keys and the keys of every kind, each once.
  std::vector<std::string> SectionKeys() const {
    MutexLock lock(&mu_);
    std::vector<std::string> keys = {type_key_};
    auto add = [&keys](const std::string& key) {
      for (const std::string& k : keys) {
        if (k == key) return;
      }
      keys.push_back(key);
    };
    for (const std::string& k : common_keys_) add(k);
    for (const Kind& kind : kinds_) {
      for (const std::string& k : kind.keys) add(k);
    }
    return keys;
  }

  // Reads `section` into `spec`: checks its keys against SectionKeys(), then
  // ReadKind().
  absl::Status ReadSection(const ConfigSection& section, Spec* spec) const {
    if (empty()) return absl::OkStatus();
    if (section.present() && !section.is_scalar()) {
      RETURN_IF_ERROR(section.CheckKeys(SectionKeys()));
    }
    return ReadKind(section, spec);
  }

  // Reads `section` into `spec` without checking its keys (for a section
  // shared by two registries, as `source` is by source types and formats,
  // whose caller checks the union). The section is the kind's name alone
  // ("optimizer: ftrl"), a map with the type key, or absent: then the kind
  // already in `spec` is read from an empty section, so that its defaults
  // apply.
  absl::Status ReadKind(const ConfigSection& section, Spec* spec) const {
    if (empty()) return absl::OkStatus();
    if (section.present() && section.is_scalar()) {
      spec->*type_field_ = section.scalar();
    } else if (section.present()) {
      RETURN_IF_ERROR(section.Get(type_key_, &(spec->*type_field_)));
    }
    const Kind* kind = Find(spec->*type_field_);
    if (kind == nullptr) {
      std::string message =
          absl::StrCat("unknown ", what_, " '", spec->*type_field_,
                       "'; expected ", ExpectedOneOf(Names()));
      return section.present() && !section.is_scalar()
                 ? section.Error(type_key_, message)
                 : section.Error(message);
    }
    if (section.present() && section.is_map()) WarnUnusedKeys(section, *kind);
    Reader common;
    {
      MutexLock lock(&mu_);
      common = common_read_;
    }
    if (common) RETURN_IF_ERROR(common(section, spec));
    return kind->read(section, spec);
  }

 private:
  // Keys that other kinds of this registry read but `kind` does not: they are
  // accepted (a config switching kinds by --set keeps working) and ignored.
  void WarnUnusedKeys(const ConfigSection& section, const Kind& kind) const {
    std::vector<std::string> own = {type_key_};
    {
      MutexLock lock(&mu_);
      own.insert(own.end(), common_keys_.begin(), common_keys_.end());
    }
    own.insert(own.end(), kind.keys.begin(), kind.keys.end());
    std::vector<std::string> all = SectionKeys();
    for (const auto& [key, value] : section.Entries()) {
      bool mine = false, known = false;
      for (const std::string& k : own) mine |= k == key;
      for (const std::string& k : all) known |= k == key;
      if (known && !mine) {
        FRESHET_LOG_WARN("{}: {} '{}' does not use {}; ignored",
                         section.PathOf(key), what_, kind.name, key);
      }
    }
  }

  const std::string what_;
  const std::string type_key_;
  std::string Spec::*const type_field_;
  mutable Mutex mu_;
  std::deque<Kind> kinds_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> common_keys_ ABSL_GUARDED_BY(mu_);
  Reader common_read_ ABSL_GUARDED_BY(mu_);
};

}  // namespace freshet

#endif  // FRESHET_BASE_CONFIG_REGISTRY_H_
