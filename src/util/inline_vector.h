// InlineVector<T, N>: a vector of trivial elements that keeps up to N of
// them inside the object itself and moves them to the heap beyond that. For
// small arrays read on hot paths, where the separate allocation of a
// std::vector costs a cache miss per access.
//
// It is a contiguous sized range, so std::span<T> and std::span<const T>
// convert from it implicitly, as from a std::vector.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <type_traits>

namespace gpc {

template <typename T, size_t N>
class InlineVector {
  static_assert(std::is_trivial_v<T>, "InlineVector holds trivial types only");
  static_assert(N > 0, "InlineVector needs some inline capacity");

 public:
  using value_type = T;
  using size_type = size_t;
  using difference_type = ptrdiff_t;
  using reference = T&;
  using const_reference = const T&;
  using pointer = T*;
  using const_pointer = const T*;
  using iterator = T*;
  using const_iterator = const T*;

  InlineVector() = default;
  InlineVector(const InlineVector& other) {
    assign(other.begin(), other.end());
  }
  InlineVector& operator=(const InlineVector& other) {
    if (this != &other) assign(other.begin(), other.end());
    return *this;
  }
  InlineVector(InlineVector&& other) noexcept { MoveFrom(other); }
  InlineVector& operator=(InlineVector&& other) noexcept {
    if (this != &other) {
      FreeHeap();
      MoveFrom(other);
    }
    return *this;
  }
  ~InlineVector() { FreeHeap(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return capacity_; }
  // Whether the elements are in the object (not on the heap).
  bool is_inline() const { return data_ == inline_; }

  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T& back() { return data_[size_ - 1]; }
  const T& back() const { return data_[size_ - 1]; }

  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }

  template <std::forward_iterator It>
  void assign(It first, It last) {
    size_t n = static_cast<size_t>(std::distance(first, last));
    if (n > capacity_) {
      // Nothing to keep: allocate afresh (the source may not be our own
      // storage then, since it holds more than we can).
      T* fresh = new T[n];
      FreeHeap();
      data_ = fresh;
      capacity_ = static_cast<uint32_t>(n);
    }
    std::copy(first, last, data_);
    size_ = static_cast<uint32_t>(n);
  }

  void assign(size_t n, const T& value) {
    T v = value;  // `value` may be one of ours
    size_ = 0;
    Reserve(n);
    std::fill_n(data_, n, v);
    size_ = static_cast<uint32_t>(n);
  }

  void resize(size_t n, const T& value) {
    T v = value;
    Reserve(n);
    if (n > size_) std::fill(data_ + size_, data_ + n, v);
    size_ = static_cast<uint32_t>(n);
  }
  void resize(size_t n) { resize(n, T{}); }

  void push_back(const T& value) {
    T v = value;
    Reserve(size_ + size_t{1});
    data_[size_++] = v;
  }
  void pop_back() { --size_; }
  void clear() { size_ = 0; }

 private:
  void Reserve(size_t n) {
    if (n <= capacity_) return;
    size_t cap = std::max(n, size_t{capacity_} * 2);
    T* fresh = new T[cap];
    if (size_ != 0) std::memcpy(fresh, data_, size_ * sizeof(T));
    FreeHeap();
    data_ = fresh;
    capacity_ = static_cast<uint32_t>(cap);
  }

  void FreeHeap() {
    if (data_ != inline_) delete[] data_;
    data_ = inline_;
    capacity_ = N;
  }

  // Requires: this holds no heap storage.
  void MoveFrom(InlineVector& other) {
    if (other.is_inline()) {
      if (other.size_ != 0) {
        std::memcpy(inline_, other.inline_, other.size_ * sizeof(T));
      }
      data_ = inline_;
      capacity_ = N;
    } else {
      data_ = other.data_;
      capacity_ = other.capacity_;
      other.data_ = other.inline_;
      other.capacity_ = N;
    }
    size_ = other.size_;
    other.size_ = 0;
  }

  T* data_ = inline_;
  uint32_t size_ = 0;
  uint32_t capacity_ = N;
  T inline_[N];
};

}  // namespace gpc
