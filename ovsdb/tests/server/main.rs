//! Acceptance tests of the OVSDB server against real OVS/OVN clients and a real ovsdb-server 3.1.
//!
//! Every test starts its own servers in its own temp dir; real programs are skipped (or fail under
//! `CI=true`) when not installed.

// The allocator of `ovnkit ovsdb-server`, for the child servers the benchmarks start from this
// binary.
#[global_allocator]
static ALLOCATOR: Mi = Mi;

/// mimalloc as `ovnkit ovsdb-server` calls it (`cli/src/alloc.rs`): its plain entry points for
/// alignments up to a word, `mimalloc::MiMalloc` (`mi_malloc_aligned` and friends) above.
struct Mi;

extern "C" {
    fn mi_malloc(size: usize) -> *mut std::ffi::c_void;
    fn mi_zalloc(size: usize) -> *mut std::ffi::c_void;
    fn mi_realloc(p: *mut std::ffi::c_void, size: usize) -> *mut std::ffi::c_void;
}

const MI_PLAIN_ALIGN: usize = size_of::<usize>();

// SAFETY: every block comes from mimalloc, whose blocks are word-aligned; larger alignments go
// through `MiMalloc`; `mi_free` (`MiMalloc::dealloc`) frees blocks of either kind.
#[allow(unsafe_code)]
unsafe impl std::alloc::GlobalAlloc for Mi {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        if layout.align() <= MI_PLAIN_ALIGN {
            // SAFETY: any size; word-aligned.
            return unsafe { mi_malloc(layout.size()) }.cast();
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        if layout.align() <= MI_PLAIN_ALIGN {
            // SAFETY: as in `alloc`.
            return unsafe { mi_zalloc(layout.size()) }.cast();
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: `ptr` came from mimalloc.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= MI_PLAIN_ALIGN {
            // SAFETY: `ptr` came from mimalloc; the new block is word-aligned too.
            return unsafe { mi_realloc(ptr.cast(), new_size) }.cast();
        }
        // SAFETY: `ptr` came from mimalloc.
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

mod harness;

mod bench;
mod client_compare;
mod crash;
mod ctl_scripts;
mod file_compat;
mod python_idl;
mod robustness;
mod stack;
