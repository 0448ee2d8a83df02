// Whether this build runs under ASan or TSan: such builds slow gpcd's start
// and restore several times over, so tests that check a deadline taken
// from an issue's figure (measured in the release build) check a looser
// one there.
#pragma once

namespace gpc {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizedBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitizedBuild = true;
#else
inline constexpr bool kSanitizedBuild = false;
#endif
#else
inline constexpr bool kSanitizedBuild = false;
#endif

}  // namespace gpc
