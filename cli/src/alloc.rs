//! The process's memory allocator, chosen per subcommand: mimalloc for `ovnkit ovsdb-server`
//! and `ovnkit northd` (the latter set up to give freed pages back at once, without transparent
//! huge pages), glibc's malloc for everything else. `OVNKIT_ALLOCATOR=system` or `mimalloc`
//! overrides the choice, for comparisons.
//!
//! Measured (BENCHMARKS.md, session 5): the OVSDB server allocates and frees many small blocks
//! per message, and mimalloc takes its instructions per NB port insert from 123 k to 104 k.
//! Session 5 measured `ovnkit northd` slower on mimalloc (918 against 438 ms on the
//! OVN-Kubernetes 100-node cluster), but that was through `MiMalloc`'s aligned entry points
//! (see [`MI_PLAIN_ALIGN`]). With the plain ones (session 12), a full round of `ovnkit northd`
//! on mimalloc's defaults used 20-24% less CPU than on glibc's malloc but peaked 10-25% higher
//! (transparent huge pages, and freed pages kept a second); with the settings of
//! [`lean_mimalloc`] it used 10-22% less and peaked the same (within the run-to-run spread).
//!
//! The choice is made once, by the first allocation of the process (before `main` runs, while
//! there is a single thread), from the command line read straight from `/proc/self/cmdline`
//! into a stack buffer and the environment read with `getenv`, so the decision itself allocates
//! nothing. It never changes afterwards, so every block is freed by the allocator that made it.

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

/// The subcommands whose allocator differs from the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    /// `ovnkit ovsdb-server`.
    OvsdbServer,
    /// `ovnkit northd`.
    Northd,
    /// Anything else.
    Other,
}

/// The subcommand: the first argument after the program, read from `/proc/self/cmdline` into
/// a stack buffer.
fn command() -> Command {
    let mut buf = [0u8; 512];
    // SAFETY: a NUL-terminated path; the descriptor is closed below.
    let fd = unsafe {
        libc::open(
            c"/proc/self/cmdline".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Command::Other;
    }
    // SAFETY: reads at most `buf.len()` bytes into `buf`.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    // SAFETY: `fd` is open and ours.
    unsafe { libc::close(fd) };
    let Ok(n) = usize::try_from(n) else {
        return Command::Other;
    };
    let mut args = buf[..n.min(buf.len())].split(|b| *b == 0);
    args.next();
    match args.next() {
        Some(b"ovsdb-server") => Command::OvsdbServer,
        Some(b"northd") => Command::Northd,
        _ => Command::Other,
    }
}

/// True when environment variable `name` is set; `getenv` allocates nothing.
fn env_is_set(name: &std::ffi::CStr) -> bool {
    // SAFETY: a NUL-terminated name; called while the process has a single thread (the first
    // allocation), so nothing changes the environment meanwhile.
    !unsafe { libc::getenv(name.as_ptr()) }.is_null()
}

/// mimalloc's `mi_option_purge_delay` (the position of `purge_delay` in `mi_option_t` of the
/// mimalloc 3.3 that `libmimalloc-sys` 0.1.49 builds).
const MI_OPTION_PURGE_DELAY: libc::c_int = 15;
/// mimalloc's `mi_option_allow_thp` (as above).
const MI_OPTION_ALLOW_THP: libc::c_int = 43;

/// Sets mimalloc up for `ovnkit northd`: freed pages given back to the system at once (the
/// default waits a second) and no transparent huge pages (a 2 MiB page is resident as soon as
/// one byte of it is touched). A full round then peaks about as high as on glibc's malloc
/// instead of 10-25% higher (BENCHMARKS.md, session 12). `MIMALLOC_PURGE_DELAY` and
/// `MIMALLOC_ALLOW_THP` in the environment still win, for comparisons.
fn lean_mimalloc() {
    if !env_is_set(c"MIMALLOC_PURGE_DELAY") {
        // SAFETY: sets an option; called before the first mimalloc allocation.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
    if !env_is_set(c"MIMALLOC_ALLOW_THP") {
        // SAFETY: as above.
        unsafe { mi_option_set(MI_OPTION_ALLOW_THP, 0) };
    }
}

extern "C" {
    /// mimalloc's `mi_option_set`.
    fn mi_option_set(option: libc::c_int, value: libc::c_long);
    /// mimalloc's `mi_collect` (in the C library `libmimalloc-sys` links; its Rust declaration
    /// is behind that crate's `extended` feature).
    fn mi_collect(force: bool);
    /// mimalloc's `mi_malloc` (the C library `libmimalloc-sys` links).
    fn mi_malloc(size: usize) -> *mut std::ffi::c_void;
    /// mimalloc's `mi_zalloc`.
    fn mi_zalloc(size: usize) -> *mut std::ffi::c_void;
    /// mimalloc's `mi_realloc`.
    fn mi_realloc(p: *mut std::ffi::c_void, size: usize) -> *mut std::ffi::c_void;
    /// mimalloc's `mi_process_info` (behind `libmimalloc-sys`'s `extended` feature on the Rust
    /// side): elapsed, user and system milliseconds, current and peak resident set, current and
    /// peak committed memory, page faults.
    #[allow(clippy::too_many_arguments)]
    fn mi_process_info(
        elapsed_msecs: *mut usize,
        user_msecs: *mut usize,
        system_msecs: *mut usize,
        current_rss: *mut usize,
        peak_rss: *mut usize,
        current_commit: *mut usize,
        peak_commit: *mut usize,
        page_faults: *mut usize,
    );
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
/// set shrinks to what is in use. Under mimalloc (`ovnkit ovsdb-server`, `ovnkit northd`) this
/// is `mi_collect`: loading a big database frees much of what it allocated (the file's text,
/// parse trees), and mimalloc otherwise keeps those pages until later allocator activity purges
/// them, which an idle server never makes (300k Southbound logical flows left 410 MiB resident
/// instead of 263 MiB).
/// Under glibc's malloc it is `malloc_trim`.
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

/// Under mimalloc, gives back to the system the freed memory whose purge delay has expired
/// (`mi_collect(false)`: nothing is forced, blocks still in use are not touched). mimalloc
/// otherwise purges such memory at a later allocation, whatever its size: after the big
/// Southbound commit an idle server purged ~200 MB (20 ms of `madvise`) inside the next small
/// transaction (BENCHMARKS.md, session 15). Does nothing under glibc's malloc.
pub(crate) fn purge_expired() {
    if choice() == MIMALLOC {
        // SAFETY: `mi_collect` takes no pointers and may be called at any time.
        unsafe { mi_collect(false) };
    }
}

/// The allocator `OVNKIT_ALLOCATOR` names (`system` or `mimalloc`), if it is set to one of
/// them; read with `getenv`, which allocates nothing.
fn requested() -> Option<u8> {
    // SAFETY: a NUL-terminated name; called while the process has a single thread (the first
    // allocation), so nothing changes the environment meanwhile.
    let v = unsafe { libc::getenv(c"OVNKIT_ALLOCATOR".as_ptr()) };
    if v.is_null() {
        return None;
    }
    // SAFETY: `getenv` returned a NUL-terminated string of the environment.
    match unsafe { std::ffi::CStr::from_ptr(v) }.to_bytes() {
        b"system" => Some(SYSTEM),
        b"mimalloc" => Some(MIMALLOC),
        _ => None,
    }
}

/// The allocator of a process running `command` (before `OVNKIT_ALLOCATOR`).
fn default_for(command: Command) -> u8 {
    match command {
        Command::OvsdbServer | Command::Northd => MIMALLOC,
        Command::Other => SYSTEM,
    }
}

/// Decides the allocator (on the first allocation) and sets it up.
fn decide() -> u8 {
    let command = command();
    let c = requested().unwrap_or_else(|| default_for(command));
    if c == MIMALLOC && command == Command::Northd {
        lean_mimalloc();
    }
    c
}

/// The allocator in use, deciding it on the first call.
fn choice() -> u8 {
    match CHOICE.load(Ordering::Acquire) {
        UNDECIDED => {
            let c = decide();
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

/// The heap's size: under glibc's malloc the bytes handed out and not given back (`mallinfo2`:
/// arena blocks in use plus mmapped blocks); under mimalloc the memory it has committed
/// (`mi_process_info`; a release build of mimalloc keeps no count of bytes handed out). On Linux
/// mimalloc commits its arenas eagerly (the kernel overcommits), so that figure is address space
/// mimalloc may use without asking the system again, an upper bound of its resident part: at
/// OVN-K 100, 241 MiB committed for 140 MiB resident. `None` elsewhere.
pub(crate) fn heap_in_use() -> Option<u64> {
    if choice() == MIMALLOC {
        return Some(mimalloc_commit().0);
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if choice() == SYSTEM {
        // SAFETY: `mallinfo2` only reads the allocator's statistics.
        let m = unsafe { libc::mallinfo2() };
        return u64::try_from(m.uordblks + m.hblkhd).ok();
    }
    None
}

/// The most memory mimalloc has had committed at once (its high-water mark since the process
/// started); `None` under glibc's malloc, which keeps no such figure.
pub(crate) fn heap_peak() -> Option<u64> {
    (choice() == MIMALLOC).then(|| mimalloc_commit().1)
}

/// mimalloc's committed memory now and at its peak, in bytes.
fn mimalloc_commit() -> (u64, u64) {
    let mut unused = [0usize; 6];
    let (mut current, mut peak) = (0usize, 0usize);
    let [elapsed, user, system, rss, peak_rss, faults] = &mut unused;
    // SAFETY: every argument points to a `usize` of ours that the call writes.
    unsafe {
        mi_process_info(
            elapsed,
            user,
            system,
            rss,
            peak_rss,
            &mut current,
            &mut peak,
            faults,
        );
    }
    (
        u64::try_from(current).unwrap_or(u64::MAX),
        u64::try_from(peak).unwrap_or(u64::MAX),
    )
}
