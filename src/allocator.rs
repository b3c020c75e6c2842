//! The process's allocator settings. `main.rs` installs mimalloc as the global allocator and
//! calls [`keep_freed_memory`] first thing; nothing else here touches the allocator.
//!
//! Why keep freed memory: a reproject frees each date's parsed bodies, decoded rows and
//! projected tables, then allocates the next date's, of about the same size. With mimalloc's
//! default (return freed pages to the OS after a second) those pages came straight back as fresh
//! page faults, each one zeroed by the kernel: on the 90-day benchmark lake 330 K faults
//! against 108 K with freed memory kept, and 2-3 of about 45 CPU-seconds. Kept, a process holds
//! its peak until it exits, which every command that allocates much (reproject, ingest)
//! reaches anyway.

use libmimalloc_sys::mi_option_t;

/// `mi_option_purge_delay` of mimalloc v3's `mi_option_e`, which the crate's bindings do not
/// name: just before `mi_option_use_numa_nodes` (16).
const MI_OPTION_PURGE_DELAY: mi_option_t = 15;

/// Tells mimalloc never to return freed memory to the OS.
pub fn keep_freed_memory() {
    // SAFETY: sets one process-wide option; mimalloc allows that at any time, from any thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_before_its_named_neighbour_and_takes_effect() {
        assert_eq!(MI_OPTION_PURGE_DELAY, libmimalloc_sys::mi_option_use_numa_nodes - 1);
        // SAFETY: reads an option.
        let before = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // The only option whose default is 1000 (ms): its row of mimalloc's `options.c`.
            assert_eq!(before, 1000, "mimalloc's default purge delay");
        }
        keep_freed_memory();
        // SAFETY: reads an option.
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }, -1);
    }
}
