//! Errno names and texts as Python prints them: static data, usable in
//! the forked child (no allocation).

// ---------------------------------------------------------------------------
// Errno names, usable in the child (static data, no allocation).
// ---------------------------------------------------------------------------

/// Python's `errno.errorcode[n]` on Linux (note EDEADLOCK and ENOTSUP: those
/// are the names Python picks for the aliased numbers).
#[rustfmt::skip]
pub fn errno_name(n: i32) -> Option<&'static str> {
    Some(match n {
        1 => "EPERM", 2 => "ENOENT", 3 => "ESRCH", 4 => "EINTR", 5 => "EIO",
        6 => "ENXIO", 7 => "E2BIG", 8 => "ENOEXEC", 9 => "EBADF", 10 => "ECHILD",
        11 => "EAGAIN", 12 => "ENOMEM", 13 => "EACCES", 14 => "EFAULT", 15 => "ENOTBLK",
        16 => "EBUSY", 17 => "EEXIST", 18 => "EXDEV", 19 => "ENODEV", 20 => "ENOTDIR",
        21 => "EISDIR", 22 => "EINVAL", 23 => "ENFILE", 24 => "EMFILE", 25 => "ENOTTY",
        26 => "ETXTBSY", 27 => "EFBIG", 28 => "ENOSPC", 29 => "ESPIPE", 30 => "EROFS",
        31 => "EMLINK", 32 => "EPIPE", 33 => "EDOM", 34 => "ERANGE", 35 => "EDEADLOCK",
        36 => "ENAMETOOLONG", 37 => "ENOLCK", 38 => "ENOSYS", 39 => "ENOTEMPTY", 40 => "ELOOP",
        42 => "ENOMSG", 43 => "EIDRM", 44 => "ECHRNG", 45 => "EL2NSYNC", 46 => "EL3HLT",
        47 => "EL3RST", 48 => "ELNRNG", 49 => "EUNATCH", 50 => "ENOCSI", 51 => "EL2HLT",
        52 => "EBADE", 53 => "EBADR", 54 => "EXFULL", 55 => "ENOANO", 56 => "EBADRQC",
        57 => "EBADSLT", 59 => "EBFONT", 60 => "ENOSTR", 61 => "ENODATA", 62 => "ETIME",
        63 => "ENOSR", 64 => "ENONET", 65 => "ENOPKG", 66 => "EREMOTE", 67 => "ENOLINK",
        68 => "EADV", 69 => "ESRMNT", 70 => "ECOMM", 71 => "EPROTO", 72 => "EMULTIHOP",
        73 => "EDOTDOT", 74 => "EBADMSG", 75 => "EOVERFLOW", 76 => "ENOTUNIQ", 77 => "EBADFD",
        78 => "EREMCHG", 79 => "ELIBACC", 80 => "ELIBBAD", 81 => "ELIBSCN", 82 => "ELIBMAX",
        83 => "ELIBEXEC", 84 => "EILSEQ", 85 => "ERESTART", 86 => "ESTRPIPE", 87 => "EUSERS",
        88 => "ENOTSOCK", 89 => "EDESTADDRREQ", 90 => "EMSGSIZE", 91 => "EPROTOTYPE",
        92 => "ENOPROTOOPT", 93 => "EPROTONOSUPPORT", 94 => "ESOCKTNOSUPPORT", 95 => "ENOTSUP",
        96 => "EPFNOSUPPORT", 97 => "EAFNOSUPPORT", 98 => "EADDRINUSE", 99 => "EADDRNOTAVAIL",
        100 => "ENETDOWN", 101 => "ENETUNREACH", 102 => "ENETRESET", 103 => "ECONNABORTED",
        104 => "ECONNRESET", 105 => "ENOBUFS", 106 => "EISCONN", 107 => "ENOTCONN",
        108 => "ESHUTDOWN", 109 => "ETOOMANYREFS", 110 => "ETIMEDOUT", 111 => "ECONNREFUSED",
        112 => "EHOSTDOWN", 113 => "EHOSTUNREACH", 114 => "EALREADY", 115 => "EINPROGRESS",
        116 => "ESTALE", 117 => "EUCLEAN", 118 => "ENOTNAM", 119 => "ENAVAIL", 120 => "EISNAM",
        121 => "EREMOTEIO", 122 => "EDQUOT", 123 => "ENOMEDIUM", 124 => "EMEDIUMTYPE",
        125 => "ECANCELED", 126 => "ENOKEY", 127 => "EKEYEXPIRED", 128 => "EKEYREVOKED",
        129 => "EKEYREJECTED", 130 => "EOWNERDEAD", 131 => "ENOTRECOVERABLE", 132 => "ERFKILL",
        _ => return None,
    })
}

/// `errno.errorcode.get(n, n)`: the symbolic name, or the number itself.
pub fn errno_text(n: i32) -> String {
    errno_name(n).map(str::to_string).unwrap_or_else(|| n.to_string())
}

/// `strerror` for the errors `execve` can give, for single-program mode's
/// shell-style message. Static so the child can use it.
pub fn exec_strerror(n: i32) -> Option<&'static str> {
    Some(match n {
        libc::ENOENT => "No such file or directory",
        libc::EACCES => "Permission denied",
        libc::ENOEXEC => "Exec format error",
        libc::ENOTDIR => "Not a directory",
        libc::EISDIR => "Is a directory",
        libc::ELOOP => "Too many levels of symbolic links",
        libc::ENAMETOOLONG => "File name too long",
        libc::E2BIG => "Argument list too long",
        libc::ENOMEM => "Cannot allocate memory",
        libc::ETXTBSY => "Text file busy",
        libc::EPERM => "Operation not permitted",
        libc::EIO => "Input/output error",
        libc::EMFILE => "Too many open files",
        libc::ENFILE => "Too many open files in system",
        libc::ELIBBAD => "Accessing a corrupted shared library",
        libc::EINVAL => "Invalid argument",
        libc::EFAULT => "Bad address",
        _ => return None,
    })
}
