//! Process limits a shard depends on.

use std::io;

/// Raises RLIMIT_MEMLOCK to at least `bytes` (glommio registers io_uring buffers, which needs
/// locked memory; below its need it panics). Returns the limit now in force.
///
/// Raising the soft limit up to the hard limit always works; beyond it needs CAP_SYS_RESOURCE.
pub fn ensure_memlock(bytes: u64) -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointer to an rlimit we own.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur >= bytes {
        return Ok(lim.rlim_cur);
    }
    let want = libc::rlimit {
        rlim_cur: bytes.max(lim.rlim_cur),
        rlim_max: lim.rlim_max.max(bytes),
    };
    // SAFETY: valid pointer to an rlimit we own.
    #[allow(unsafe_code)]
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &want) } == 0 {
        return Ok(want.rlim_cur);
    }
    // Not privileged: take what the hard limit allows.
    let soft = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above.
    #[allow(unsafe_code)]
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &soft) } == 0 {
        return Ok(soft.rlim_cur);
    }
    Ok(lim.rlim_cur)
}

/// Gives the allocator's free memory back to the OS (glibc `malloc_trim`): for a thread that
/// built something large once and freed its scratch, which glibc would otherwise keep mapped
/// in that thread's arena for the life of the process. Returns whether memory was released.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_free_memory() -> bool {
    // SAFETY: malloc_trim takes no pointers and is safe to call from any thread at any time.
    #[allow(unsafe_code)]
    let released = unsafe { libc::malloc_trim(0) };
    released != 0
}

/// Other allocators: nothing to do.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() -> bool {
    false
}
