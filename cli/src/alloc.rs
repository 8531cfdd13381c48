//! The process's memory allocator, chosen per subcommand: mimalloc for `ovnkit ovsdb-server`,
//! glibc's malloc for everything else.
//!
//! Measured (BENCHMARKS.md, session 5): the OVSDB server allocates and frees many small blocks
//! per message, and mimalloc takes its instructions per NB port insert from 123 k to 104 k;
//! `ovnkit northd` on the other hand computed the OVN-Kubernetes 100-node cluster in 918 ms with
//! mimalloc against 438 ms with glibc's malloc, and peaked at 434 MiB against 379 MiB.
//!
//! The choice is made once, by the first allocation of the process (before `main` runs, while
//! there is a single thread), from the command line read straight from `/proc/self/cmdline`
//! into a stack buffer, so the decision itself allocates nothing. It never changes afterwards,
//! so every block is freed by the allocator that made it.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU8, Ordering};

use mimalloc::MiMalloc;

/// No allocation has been made yet.
const UNDECIDED: u8 = 0;
/// glibc's malloc (the system allocator).
const SYSTEM: u8 = 1;
/// mimalloc.
const MIMALLOC: u8 = 2;

/// The allocator of the process (see the module documentation).
#[derive(Debug)]
pub(crate) struct PerCommand;

static CHOICE: AtomicU8 = AtomicU8::new(UNDECIDED);

/// True when the first argument after the program is `ovsdb-server`.
fn serves_ovsdb() -> bool {
    let mut buf = [0u8; 512];
    // SAFETY: a NUL-terminated path; the descriptor is closed below.
    let fd = unsafe {
        libc::open(
            c"/proc/self/cmdline".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return false;
    }
    // SAFETY: reads at most `buf.len()` bytes into `buf`.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    // SAFETY: `fd` is open and ours.
    unsafe { libc::close(fd) };
    let Ok(n) = usize::try_from(n) else {
        return false;
    };
    let mut args = buf[..n.min(buf.len())].split(|b| *b == 0);
    args.next();
    args.next() == Some(b"ovsdb-server".as_slice())
}

extern "C" {
    /// mimalloc's `mi_collect` (in the C library `libmimalloc-sys` links; its Rust declaration
    /// is behind that crate's `extended` feature).
    fn mi_collect(force: bool);
    /// mimalloc's `mi_malloc` (the C library `libmimalloc-sys` links).
    fn mi_malloc(size: usize) -> *mut std::ffi::c_void;
    /// mimalloc's `mi_zalloc`.
    fn mi_zalloc(size: usize) -> *mut std::ffi::c_void;
    /// mimalloc's `mi_realloc`.
    fn mi_realloc(p: *mut std::ffi::c_void, size: usize) -> *mut std::ffi::c_void;
}

/// The largest alignment for which mimalloc's plain entry points are used (every block mimalloc
/// hands out is aligned to a machine word).
///
/// `MiMalloc` calls `mi_malloc_aligned` for every allocation, and mimalloc 3 serves a block of
/// more than 1 KiB whose size class is not a power of two by over-allocating it and marking its
/// page as holding interior pointers, even for an alignment of 1: about 170 more instructions
/// per such allocation (6 per single-row insert in the OVSDB server: reply text, record, read
/// buffers) and slower frees on that page. The plain `mi_malloc` gives the same alignment
/// guarantee up to a word, from the same heap, and `mi_free` frees blocks of either kind.
const MI_PLAIN_ALIGN: usize = size_of::<usize>();

/// Gives the memory the allocator holds free back to the system, at once, so that the resident
/// set shrinks to what is in use. Under mimalloc (`ovnkit ovsdb-server`) this is `mi_collect`:
/// loading a big database frees much of what it allocated (the file's text, parse trees), and
/// mimalloc otherwise keeps those pages until later allocator activity purges them, which an idle
/// server never makes (300k Southbound logical flows left 410 MiB resident instead of 263 MiB).
/// Under glibc's malloc (`ovnkit northd` and the rest) it is `malloc_trim`.
pub(crate) fn release_free_memory() {
    if choice() == MIMALLOC {
        // SAFETY: `mi_collect` takes no pointers and may be called at any time.
        unsafe { mi_collect(true) };
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only reads and updates the allocator's own state.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The allocator in use, deciding it on the first call.
fn choice() -> u8 {
    match CHOICE.load(Ordering::Acquire) {
        UNDECIDED => {
            let c = if serves_ovsdb() { MIMALLOC } else { SYSTEM };
            match CHOICE.compare_exchange(UNDECIDED, c, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => c,
                Err(first) => first,
            }
        }
        c => c,
    }
}

// SAFETY: every call is forwarded to one of two allocators, the same one for the whole life of
// the process (`choice` never changes once set), so each block is freed, grown or shrunk by the
// allocator that made it.
unsafe impl GlobalAlloc for PerCommand {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if choice() == MIMALLOC {
            if layout.align() <= MI_PLAIN_ALIGN {
                // SAFETY: any size; the block is word-aligned (see `MI_PLAIN_ALIGN`).
                return unsafe { mi_malloc(layout.size()) }.cast();
            }
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { MiMalloc.alloc(layout) }
        } else {
            // SAFETY: as above.
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if choice() == MIMALLOC {
            if layout.align() <= MI_PLAIN_ALIGN {
                // SAFETY: as in `alloc`.
                return unsafe { mi_zalloc(layout.size()) }.cast();
            }
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { MiMalloc.alloc_zeroed(layout) }
        } else {
            // SAFETY: as above.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if choice() == MIMALLOC {
            // SAFETY: `ptr` came from mimalloc (the choice never changes); `mi_free` frees
            // blocks of the plain and the aligned entry points alike.
            unsafe { MiMalloc.dealloc(ptr, layout) }
        } else {
            // SAFETY: `ptr` came from `System`.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if choice() == MIMALLOC {
            if layout.align() <= MI_PLAIN_ALIGN {
                // SAFETY: `ptr` came from mimalloc; the new block is word-aligned too.
                return unsafe { mi_realloc(ptr.cast(), new_size) }.cast();
            }
            // SAFETY: `ptr` came from mimalloc.
            unsafe { MiMalloc.realloc(ptr, layout, new_size) }
        } else {
            // SAFETY: `ptr` came from `System`.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }
}

/// Bytes glibc's malloc has handed out and not been given back (`mallinfo2`: arena blocks in
/// use plus mmapped blocks); `None` under mimalloc or elsewhere.
pub(crate) fn heap_in_use() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if choice() == SYSTEM {
        // SAFETY: `mallinfo2` only reads the allocator's statistics.
        let m = unsafe { libc::mallinfo2() };
        return u64::try_from(m.uordblks + m.hblkhd).ok();
    }
    None
}
