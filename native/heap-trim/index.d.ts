/** Calls glibc's malloc_trim(0); true when memory was released. False (no-op) on other C libraries. */
export function trim(): boolean;
/** True when the C library has malloc_trim (glibc). */
export function supported(): boolean;
