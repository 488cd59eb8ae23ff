/*
 * syscalls.h: what a guest may do with each x86_64 Linux system call, one
 * table for both sides: the proc monitor's seccomp filter
 * (toolstack/policy.c) and the SDK's dispatcher (guest/linux.c, which is
 * all a kvm guest has). docs/sdk.md explains the classes and lists the
 * calls the SDK serves.
 *
 *  - LVM_SC_FATAL: signals an attack, or a program that cannot go on
 *    (execve, ptrace, mount, bpf, ...). Under proc the filter kills the
 *    guest in the kernel (so the report comes from the kernel's audit
 *    record); under kvm the SDK ends it with the same report. The call
 *    never runs.
 *  - LVM_SC_HCALL: the calls the SDK itself makes as hypercalls under
 *    proc (write to the console, ppoll of its event fds, ...) and a few
 *    that are fatal only for some arguments (mmap with PROT_EXEC, kill of
 *    another process, raw sockets). policy.c allows, traps or kills each by
 *    its arguments; guest/linux.c draws the same line.
 *  - LVM_SC_TRAP: everything else. Under proc the filter traps it to the
 *    SDK (SIGSYS, its default action), which serves it or answers the
 *    errno in the table, with a one-time console warning. It never
 *    reaches the host kernel. In strict mode (lightvm-cc
 *    --strict-syscalls) an unserved call is fatal.
 *
 * Numbers missing from the table (the gaps, anything newer than it) are
 * fatal: trapped like the rest under proc, and the SDK ends the guest.
 * x32 and i386 calls are another architecture, killed by the filter.
 *
 * X(nr, name, class, errno when refused)
 */
#ifndef LIGHTVM_SYSCALLS_H
#define LIGHTVM_SYSCALLS_H

#define LVM_SC_FATAL 0
#define LVM_SC_HCALL 1
#define LVM_SC_TRAP 2

/* The highest system call number in the table. */
#define LVM_SYSCALL_MAX 467

/*
 * File descriptors the SDK gives the guest (its file tree, ...) start
 * here. Those below are the host's (console, control eventfd, devices):
 * under proc the filter lets only the hypercalls touch them and kills the
 * guest for any other read or write of one.
 */
#define LVM_SDK_FD_MIN 64

/* Guest thread ids are below this (the proc filter traps tkill/tgkill of
 * them; a signal to any other id is fatal). */
#define LVM_TID_LIMIT (1 << 22)

/* clang-format off */
#define LVM_SYSCALL_TABLE(X) \
    X(0, "read", LVM_SC_HCALL, EBADF) \
    X(1, "write", LVM_SC_HCALL, EBADF) \
    X(2, "open", LVM_SC_TRAP, ENOENT) \
    X(3, "close", LVM_SC_TRAP, EBADF) \
    X(4, "stat", LVM_SC_TRAP, ENOENT) \
    X(5, "fstat", LVM_SC_TRAP, EBADF) \
    X(6, "lstat", LVM_SC_TRAP, ENOENT) \
    X(7, "poll", LVM_SC_TRAP, ENOSYS) \
    X(8, "lseek", LVM_SC_TRAP, EBADF) \
    X(9, "mmap", LVM_SC_HCALL, ENOSYS) \
    X(10, "mprotect", LVM_SC_HCALL, ENOSYS) \
    X(11, "munmap", LVM_SC_TRAP, ENOSYS) \
    X(12, "brk", LVM_SC_TRAP, ENOSYS) \
    X(13, "rt_sigaction", LVM_SC_TRAP, ENOSYS) \
    X(14, "rt_sigprocmask", LVM_SC_TRAP, ENOSYS) \
    X(15, "rt_sigreturn", LVM_SC_HCALL, ENOSYS) \
    X(16, "ioctl", LVM_SC_TRAP, EBADF) \
    X(17, "pread64", LVM_SC_HCALL, EBADF) \
    X(18, "pwrite64", LVM_SC_HCALL, EBADF) \
    X(19, "readv", LVM_SC_TRAP, EBADF) \
    X(20, "writev", LVM_SC_TRAP, EBADF) \
    X(21, "access", LVM_SC_TRAP, ENOENT) \
    X(22, "pipe", LVM_SC_TRAP, ENOSYS) \
    X(23, "select", LVM_SC_TRAP, ENOSYS) \
    X(24, "sched_yield", LVM_SC_TRAP, ENOSYS) \
    X(25, "mremap", LVM_SC_TRAP, ENOSYS) \
    X(26, "msync", LVM_SC_TRAP, ENOSYS) \
    X(27, "mincore", LVM_SC_TRAP, ENOSYS) \
    X(28, "madvise", LVM_SC_TRAP, ENOSYS) \
    X(29, "shmget", LVM_SC_TRAP, ENOSYS) \
    X(30, "shmat", LVM_SC_TRAP, ENOSYS) \
    X(31, "shmctl", LVM_SC_TRAP, ENOSYS) \
    X(32, "dup", LVM_SC_TRAP, EBADF) \
    X(33, "dup2", LVM_SC_TRAP, EBADF) \
    X(34, "pause", LVM_SC_TRAP, ENOSYS) \
    X(35, "nanosleep", LVM_SC_TRAP, ENOSYS) \
    X(36, "getitimer", LVM_SC_TRAP, ENOSYS) \
    X(37, "alarm", LVM_SC_TRAP, ENOSYS) \
    X(38, "setitimer", LVM_SC_TRAP, ENOSYS) \
    X(39, "getpid", LVM_SC_TRAP, ENOSYS) \
    X(40, "sendfile", LVM_SC_TRAP, EBADF) \
    X(41, "socket", LVM_SC_HCALL, EAFNOSUPPORT) \
    X(42, "connect", LVM_SC_TRAP, EBADF) \
    X(43, "accept", LVM_SC_TRAP, EBADF) \
    X(44, "sendto", LVM_SC_TRAP, EBADF) \
    X(45, "recvfrom", LVM_SC_TRAP, EBADF) \
    X(46, "sendmsg", LVM_SC_TRAP, EBADF) \
    X(47, "recvmsg", LVM_SC_TRAP, EBADF) \
    X(48, "shutdown", LVM_SC_TRAP, EBADF) \
    X(49, "bind", LVM_SC_TRAP, EBADF) \
    X(50, "listen", LVM_SC_TRAP, EBADF) \
    X(51, "getsockname", LVM_SC_TRAP, EBADF) \
    X(52, "getpeername", LVM_SC_TRAP, EBADF) \
    X(53, "socketpair", LVM_SC_HCALL, EAFNOSUPPORT) \
    X(54, "setsockopt", LVM_SC_TRAP, EBADF) \
    X(55, "getsockopt", LVM_SC_TRAP, EBADF) \
    X(56, "clone", LVM_SC_TRAP, ENOSYS) \
    X(57, "fork", LVM_SC_TRAP, ENOSYS) \
    X(58, "vfork", LVM_SC_TRAP, ENOSYS) \
    X(59, "execve", LVM_SC_FATAL, ENOSYS) \
    X(60, "exit", LVM_SC_TRAP, ENOSYS) \
    X(61, "wait4", LVM_SC_TRAP, ECHILD) \
    X(62, "kill", LVM_SC_HCALL, ENOSYS) \
    X(63, "uname", LVM_SC_TRAP, ENOSYS) \
    X(64, "semget", LVM_SC_TRAP, ENOSYS) \
    X(65, "semop", LVM_SC_TRAP, ENOSYS) \
    X(66, "semctl", LVM_SC_TRAP, ENOSYS) \
    X(67, "shmdt", LVM_SC_TRAP, ENOSYS) \
    X(68, "msgget", LVM_SC_TRAP, ENOSYS) \
    X(69, "msgsnd", LVM_SC_TRAP, ENOSYS) \
    X(70, "msgrcv", LVM_SC_TRAP, ENOSYS) \
    X(71, "msgctl", LVM_SC_TRAP, ENOSYS) \
    X(72, "fcntl", LVM_SC_TRAP, EBADF) \
    X(73, "flock", LVM_SC_TRAP, EBADF) \
    X(74, "fsync", LVM_SC_TRAP, EBADF) \
    X(75, "fdatasync", LVM_SC_TRAP, EBADF) \
    X(76, "truncate", LVM_SC_TRAP, EROFS) \
    X(77, "ftruncate", LVM_SC_TRAP, EBADF) \
    X(78, "getdents", LVM_SC_TRAP, EBADF) \
    X(79, "getcwd", LVM_SC_TRAP, ENOSYS) \
    X(80, "chdir", LVM_SC_TRAP, ENOENT) \
    X(81, "fchdir", LVM_SC_TRAP, EBADF) \
    X(82, "rename", LVM_SC_TRAP, EROFS) \
    X(83, "mkdir", LVM_SC_TRAP, EROFS) \
    X(84, "rmdir", LVM_SC_TRAP, EROFS) \
    X(85, "creat", LVM_SC_TRAP, EROFS) \
    X(86, "link", LVM_SC_TRAP, EROFS) \
    X(87, "unlink", LVM_SC_TRAP, EROFS) \
    X(88, "symlink", LVM_SC_TRAP, EROFS) \
    X(89, "readlink", LVM_SC_TRAP, ENOENT) \
    X(90, "chmod", LVM_SC_TRAP, EROFS) \
    X(91, "fchmod", LVM_SC_TRAP, EBADF) \
    X(92, "chown", LVM_SC_TRAP, EROFS) \
    X(93, "fchown", LVM_SC_TRAP, EBADF) \
    X(94, "lchown", LVM_SC_TRAP, EROFS) \
    X(95, "umask", LVM_SC_TRAP, ENOSYS) \
    X(96, "gettimeofday", LVM_SC_TRAP, ENOSYS) \
    X(97, "getrlimit", LVM_SC_TRAP, ENOSYS) \
    X(98, "getrusage", LVM_SC_TRAP, ENOSYS) \
    X(99, "sysinfo", LVM_SC_TRAP, ENOSYS) \
    X(100, "times", LVM_SC_TRAP, ENOSYS) \
    X(101, "ptrace", LVM_SC_FATAL, ENOSYS) \
    X(102, "getuid", LVM_SC_TRAP, ENOSYS) \
    X(103, "syslog", LVM_SC_FATAL, ENOSYS) \
    X(104, "getgid", LVM_SC_TRAP, ENOSYS) \
    X(105, "setuid", LVM_SC_TRAP, EPERM) \
    X(106, "setgid", LVM_SC_TRAP, EPERM) \
    X(107, "geteuid", LVM_SC_TRAP, ENOSYS) \
    X(108, "getegid", LVM_SC_TRAP, ENOSYS) \
    X(109, "setpgid", LVM_SC_TRAP, EPERM) \
    X(110, "getppid", LVM_SC_TRAP, ENOSYS) \
    X(111, "getpgrp", LVM_SC_TRAP, ENOSYS) \
    X(112, "setsid", LVM_SC_TRAP, EPERM) \
    X(113, "setreuid", LVM_SC_TRAP, EPERM) \
    X(114, "setregid", LVM_SC_TRAP, EPERM) \
    X(115, "getgroups", LVM_SC_TRAP, ENOSYS) \
    X(116, "setgroups", LVM_SC_TRAP, EPERM) \
    X(117, "setresuid", LVM_SC_TRAP, EPERM) \
    X(118, "getresuid", LVM_SC_TRAP, ENOSYS) \
    X(119, "setresgid", LVM_SC_TRAP, EPERM) \
    X(120, "getresgid", LVM_SC_TRAP, ENOSYS) \
    X(121, "getpgid", LVM_SC_TRAP, ENOSYS) \
    X(122, "setfsuid", LVM_SC_TRAP, EPERM) \
    X(123, "setfsgid", LVM_SC_TRAP, EPERM) \
    X(124, "getsid", LVM_SC_TRAP, ENOSYS) \
    X(125, "capget", LVM_SC_TRAP, ENOSYS) \
    X(126, "capset", LVM_SC_TRAP, EPERM) \
    X(127, "rt_sigpending", LVM_SC_TRAP, ENOSYS) \
    X(128, "rt_sigtimedwait", LVM_SC_TRAP, ENOSYS) \
    X(129, "rt_sigqueueinfo", LVM_SC_TRAP, EPERM) \
    X(130, "rt_sigsuspend", LVM_SC_TRAP, ENOSYS) \
    X(131, "sigaltstack", LVM_SC_TRAP, ENOSYS) \
    X(132, "utime", LVM_SC_TRAP, EROFS) \
    X(133, "mknod", LVM_SC_TRAP, EROFS) \
    X(134, "uselib", LVM_SC_FATAL, ENOSYS) \
    X(135, "personality", LVM_SC_TRAP, ENOSYS) \
    X(136, "ustat", LVM_SC_TRAP, ENOSYS) \
    X(137, "statfs", LVM_SC_TRAP, ENOENT) \
    X(138, "fstatfs", LVM_SC_TRAP, EBADF) \
    X(139, "sysfs", LVM_SC_TRAP, ENOSYS) \
    X(140, "getpriority", LVM_SC_TRAP, ENOSYS) \
    X(141, "setpriority", LVM_SC_TRAP, EPERM) \
    X(142, "sched_setparam", LVM_SC_TRAP, EPERM) \
    X(143, "sched_getparam", LVM_SC_TRAP, ENOSYS) \
    X(144, "sched_setscheduler", LVM_SC_TRAP, EPERM) \
    X(145, "sched_getscheduler", LVM_SC_TRAP, ENOSYS) \
    X(146, "sched_get_priority_max", LVM_SC_TRAP, ENOSYS) \
    X(147, "sched_get_priority_min", LVM_SC_TRAP, ENOSYS) \
    X(148, "sched_rr_get_interval", LVM_SC_TRAP, ENOSYS) \
    X(149, "mlock", LVM_SC_TRAP, EPERM) \
    X(150, "munlock", LVM_SC_TRAP, EPERM) \
    X(151, "mlockall", LVM_SC_TRAP, EPERM) \
    X(152, "munlockall", LVM_SC_TRAP, EPERM) \
    X(153, "vhangup", LVM_SC_FATAL, ENOSYS) \
    X(154, "modify_ldt", LVM_SC_FATAL, ENOSYS) \
    X(155, "pivot_root", LVM_SC_FATAL, ENOSYS) \
    X(156, "_sysctl", LVM_SC_FATAL, ENOSYS) \
    X(157, "prctl", LVM_SC_TRAP, ENOSYS) \
    X(158, "arch_prctl", LVM_SC_HCALL, ENOSYS) \
    X(159, "adjtimex", LVM_SC_FATAL, ENOSYS) \
    X(160, "setrlimit", LVM_SC_TRAP, EPERM) \
    X(161, "chroot", LVM_SC_FATAL, ENOSYS) \
    X(162, "sync", LVM_SC_TRAP, ENOSYS) \
    X(163, "acct", LVM_SC_FATAL, ENOSYS) \
    X(164, "settimeofday", LVM_SC_FATAL, ENOSYS) \
    X(165, "mount", LVM_SC_FATAL, ENOSYS) \
    X(166, "umount2", LVM_SC_FATAL, ENOSYS) \
    X(167, "swapon", LVM_SC_FATAL, ENOSYS) \
    X(168, "swapoff", LVM_SC_FATAL, ENOSYS) \
    X(169, "reboot", LVM_SC_FATAL, ENOSYS) \
    X(170, "sethostname", LVM_SC_TRAP, EPERM) \
    X(171, "setdomainname", LVM_SC_TRAP, EPERM) \
    X(172, "iopl", LVM_SC_FATAL, ENOSYS) \
    X(173, "ioperm", LVM_SC_FATAL, ENOSYS) \
    X(174, "create_module", LVM_SC_FATAL, ENOSYS) \
    X(175, "init_module", LVM_SC_FATAL, ENOSYS) \
    X(176, "delete_module", LVM_SC_FATAL, ENOSYS) \
    X(177, "get_kernel_syms", LVM_SC_FATAL, ENOSYS) \
    X(178, "query_module", LVM_SC_FATAL, ENOSYS) \
    X(179, "quotactl", LVM_SC_FATAL, ENOSYS) \
    X(180, "nfsservctl", LVM_SC_FATAL, ENOSYS) \
    X(181, "getpmsg", LVM_SC_TRAP, ENOSYS) \
    X(182, "putpmsg", LVM_SC_TRAP, ENOSYS) \
    X(183, "afs_syscall", LVM_SC_TRAP, ENOSYS) \
    X(184, "tuxcall", LVM_SC_TRAP, ENOSYS) \
    X(185, "security", LVM_SC_TRAP, ENOSYS) \
    X(186, "gettid", LVM_SC_TRAP, ENOSYS) \
    X(187, "readahead", LVM_SC_TRAP, EBADF) \
    X(188, "setxattr", LVM_SC_TRAP, EROFS) \
    X(189, "lsetxattr", LVM_SC_TRAP, EROFS) \
    X(190, "fsetxattr", LVM_SC_TRAP, EBADF) \
    X(191, "getxattr", LVM_SC_TRAP, ENOENT) \
    X(192, "lgetxattr", LVM_SC_TRAP, ENOENT) \
    X(193, "fgetxattr", LVM_SC_TRAP, EBADF) \
    X(194, "listxattr", LVM_SC_TRAP, ENOENT) \
    X(195, "llistxattr", LVM_SC_TRAP, ENOENT) \
    X(196, "flistxattr", LVM_SC_TRAP, EBADF) \
    X(197, "removexattr", LVM_SC_TRAP, EROFS) \
    X(198, "lremovexattr", LVM_SC_TRAP, EROFS) \
    X(199, "fremovexattr", LVM_SC_TRAP, EBADF) \
    X(200, "tkill", LVM_SC_HCALL, ENOSYS) \
    X(201, "time", LVM_SC_TRAP, ENOSYS) \
    X(202, "futex", LVM_SC_TRAP, ENOSYS) \
    X(203, "sched_setaffinity", LVM_SC_TRAP, EPERM) \
    X(204, "sched_getaffinity", LVM_SC_TRAP, ENOSYS) \
    X(205, "set_thread_area", LVM_SC_FATAL, ENOSYS) \
    X(206, "io_setup", LVM_SC_TRAP, ENOSYS) \
    X(207, "io_destroy", LVM_SC_TRAP, ENOSYS) \
    X(208, "io_getevents", LVM_SC_TRAP, ENOSYS) \
    X(209, "io_submit", LVM_SC_TRAP, ENOSYS) \
    X(210, "io_cancel", LVM_SC_TRAP, ENOSYS) \
    X(211, "get_thread_area", LVM_SC_FATAL, ENOSYS) \
    X(212, "lookup_dcookie", LVM_SC_FATAL, ENOSYS) \
    X(213, "epoll_create", LVM_SC_TRAP, ENOSYS) \
    X(214, "epoll_ctl_old", LVM_SC_TRAP, EBADF) \
    X(215, "epoll_wait_old", LVM_SC_TRAP, EBADF) \
    X(216, "remap_file_pages", LVM_SC_TRAP, ENOSYS) \
    X(217, "getdents64", LVM_SC_TRAP, EBADF) \
    X(218, "set_tid_address", LVM_SC_TRAP, ENOSYS) \
    X(219, "restart_syscall", LVM_SC_TRAP, ENOSYS) \
    X(220, "semtimedop", LVM_SC_TRAP, ENOSYS) \
    X(221, "fadvise64", LVM_SC_TRAP, EBADF) \
    X(222, "timer_create", LVM_SC_TRAP, ENOSYS) \
    X(223, "timer_settime", LVM_SC_TRAP, ENOSYS) \
    X(224, "timer_gettime", LVM_SC_TRAP, ENOSYS) \
    X(225, "timer_getoverrun", LVM_SC_TRAP, ENOSYS) \
    X(226, "timer_delete", LVM_SC_TRAP, ENOSYS) \
    X(227, "clock_settime", LVM_SC_FATAL, ENOSYS) \
    X(228, "clock_gettime", LVM_SC_HCALL, ENOSYS) \
    X(229, "clock_getres", LVM_SC_TRAP, ENOSYS) \
    X(230, "clock_nanosleep", LVM_SC_TRAP, ENOSYS) \
    X(231, "exit_group", LVM_SC_HCALL, ENOSYS) \
    X(232, "epoll_wait", LVM_SC_TRAP, EBADF) \
    X(233, "epoll_ctl", LVM_SC_TRAP, EBADF) \
    X(234, "tgkill", LVM_SC_HCALL, ENOSYS) \
    X(235, "utimes", LVM_SC_TRAP, EROFS) \
    X(236, "vserver", LVM_SC_TRAP, ENOSYS) \
    X(237, "mbind", LVM_SC_TRAP, EPERM) \
    X(238, "set_mempolicy", LVM_SC_TRAP, EPERM) \
    X(239, "get_mempolicy", LVM_SC_TRAP, ENOSYS) \
    X(240, "mq_open", LVM_SC_TRAP, ENOENT) \
    X(241, "mq_unlink", LVM_SC_TRAP, ENOENT) \
    X(242, "mq_timedsend", LVM_SC_TRAP, EBADF) \
    X(243, "mq_timedreceive", LVM_SC_TRAP, EBADF) \
    X(244, "mq_notify", LVM_SC_TRAP, EBADF) \
    X(245, "mq_getsetattr", LVM_SC_TRAP, EBADF) \
    X(246, "kexec_load", LVM_SC_FATAL, ENOSYS) \
    X(247, "waitid", LVM_SC_TRAP, ECHILD) \
    X(248, "add_key", LVM_SC_FATAL, ENOSYS) \
    X(249, "request_key", LVM_SC_FATAL, ENOSYS) \
    X(250, "keyctl", LVM_SC_FATAL, ENOSYS) \
    X(251, "ioprio_set", LVM_SC_TRAP, EPERM) \
    X(252, "ioprio_get", LVM_SC_TRAP, ENOSYS) \
    X(253, "inotify_init", LVM_SC_TRAP, ENOSYS) \
    X(254, "inotify_add_watch", LVM_SC_TRAP, ENOENT) \
    X(255, "inotify_rm_watch", LVM_SC_TRAP, EBADF) \
    X(256, "migrate_pages", LVM_SC_TRAP, EPERM) \
    X(257, "openat", LVM_SC_TRAP, ENOENT) \
    X(258, "mkdirat", LVM_SC_TRAP, EROFS) \
    X(259, "mknodat", LVM_SC_TRAP, EROFS) \
    X(260, "fchownat", LVM_SC_TRAP, EROFS) \
    X(261, "futimesat", LVM_SC_TRAP, EROFS) \
    X(262, "newfstatat", LVM_SC_TRAP, ENOENT) \
    X(263, "unlinkat", LVM_SC_TRAP, EROFS) \
    X(264, "renameat", LVM_SC_TRAP, EROFS) \
    X(265, "linkat", LVM_SC_TRAP, EROFS) \
    X(266, "symlinkat", LVM_SC_TRAP, EROFS) \
    X(267, "readlinkat", LVM_SC_TRAP, ENOENT) \
    X(268, "fchmodat", LVM_SC_TRAP, EROFS) \
    X(269, "faccessat", LVM_SC_TRAP, ENOENT) \
    X(270, "pselect6", LVM_SC_TRAP, ENOSYS) \
    X(271, "ppoll", LVM_SC_HCALL, ENOSYS) \
    X(272, "unshare", LVM_SC_FATAL, ENOSYS) \
    X(273, "set_robust_list", LVM_SC_TRAP, ENOSYS) \
    X(274, "get_robust_list", LVM_SC_TRAP, ENOSYS) \
    X(275, "splice", LVM_SC_TRAP, EBADF) \
    X(276, "tee", LVM_SC_TRAP, EBADF) \
    X(277, "sync_file_range", LVM_SC_TRAP, EBADF) \
    X(278, "vmsplice", LVM_SC_TRAP, EBADF) \
    X(279, "move_pages", LVM_SC_TRAP, EPERM) \
    X(280, "utimensat", LVM_SC_TRAP, EROFS) \
    X(281, "epoll_pwait", LVM_SC_TRAP, EBADF) \
    X(282, "signalfd", LVM_SC_TRAP, ENOSYS) \
    X(283, "timerfd_create", LVM_SC_TRAP, ENOSYS) \
    X(284, "eventfd", LVM_SC_TRAP, ENOSYS) \
    X(285, "fallocate", LVM_SC_TRAP, EBADF) \
    X(286, "timerfd_settime", LVM_SC_TRAP, EBADF) \
    X(287, "timerfd_gettime", LVM_SC_TRAP, EBADF) \
    X(288, "accept4", LVM_SC_TRAP, EBADF) \
    X(289, "signalfd4", LVM_SC_TRAP, ENOSYS) \
    X(290, "eventfd2", LVM_SC_TRAP, ENOSYS) \
    X(291, "epoll_create1", LVM_SC_TRAP, ENOSYS) \
    X(292, "dup3", LVM_SC_TRAP, EBADF) \
    X(293, "pipe2", LVM_SC_TRAP, ENOSYS) \
    X(294, "inotify_init1", LVM_SC_TRAP, ENOSYS) \
    X(295, "preadv", LVM_SC_TRAP, EBADF) \
    X(296, "pwritev", LVM_SC_TRAP, EBADF) \
    X(297, "rt_tgsigqueueinfo", LVM_SC_TRAP, EPERM) \
    X(298, "perf_event_open", LVM_SC_FATAL, ENOSYS) \
    X(299, "recvmmsg", LVM_SC_TRAP, EBADF) \
    X(300, "fanotify_init", LVM_SC_FATAL, ENOSYS) \
    X(301, "fanotify_mark", LVM_SC_TRAP, EBADF) \
    X(302, "prlimit64", LVM_SC_TRAP, ENOSYS) \
    X(303, "name_to_handle_at", LVM_SC_FATAL, ENOSYS) \
    X(304, "open_by_handle_at", LVM_SC_FATAL, ENOSYS) \
    X(305, "clock_adjtime", LVM_SC_FATAL, ENOSYS) \
    X(306, "syncfs", LVM_SC_TRAP, EBADF) \
    X(307, "sendmmsg", LVM_SC_TRAP, EBADF) \
    X(308, "setns", LVM_SC_FATAL, ENOSYS) \
    X(309, "getcpu", LVM_SC_TRAP, ENOSYS) \
    X(310, "process_vm_readv", LVM_SC_FATAL, ENOSYS) \
    X(311, "process_vm_writev", LVM_SC_FATAL, ENOSYS) \
    X(312, "kcmp", LVM_SC_FATAL, ENOSYS) \
    X(313, "finit_module", LVM_SC_FATAL, ENOSYS) \
    X(314, "sched_setattr", LVM_SC_TRAP, EPERM) \
    X(315, "sched_getattr", LVM_SC_TRAP, ENOSYS) \
    X(316, "renameat2", LVM_SC_TRAP, EROFS) \
    X(317, "seccomp", LVM_SC_TRAP, EPERM) \
    X(318, "getrandom", LVM_SC_TRAP, ENOSYS) \
    X(319, "memfd_create", LVM_SC_TRAP, ENOSYS) \
    X(320, "kexec_file_load", LVM_SC_FATAL, ENOSYS) \
    X(321, "bpf", LVM_SC_FATAL, ENOSYS) \
    X(322, "execveat", LVM_SC_FATAL, ENOSYS) \
    X(323, "userfaultfd", LVM_SC_FATAL, ENOSYS) \
    X(324, "membarrier", LVM_SC_TRAP, ENOSYS) \
    X(325, "mlock2", LVM_SC_TRAP, EPERM) \
    X(326, "copy_file_range", LVM_SC_TRAP, EBADF) \
    X(327, "preadv2", LVM_SC_TRAP, EBADF) \
    X(328, "pwritev2", LVM_SC_TRAP, EBADF) \
    X(329, "pkey_mprotect", LVM_SC_HCALL, ENOSYS) \
    X(330, "pkey_alloc", LVM_SC_TRAP, ENOSYS) \
    X(331, "pkey_free", LVM_SC_TRAP, ENOSYS) \
    X(332, "statx", LVM_SC_TRAP, ENOENT) \
    X(333, "io_pgetevents", LVM_SC_TRAP, ENOSYS) \
    X(334, "rseq", LVM_SC_TRAP, ENOSYS) \
    X(335, "uretprobe", LVM_SC_FATAL, ENOSYS) \
    X(336, "uprobe", LVM_SC_FATAL, ENOSYS) \
    X(424, "pidfd_send_signal", LVM_SC_FATAL, ENOSYS) \
    X(425, "io_uring_setup", LVM_SC_FATAL, ENOSYS) \
    X(426, "io_uring_enter", LVM_SC_FATAL, ENOSYS) \
    X(427, "io_uring_register", LVM_SC_FATAL, ENOSYS) \
    X(428, "open_tree", LVM_SC_FATAL, ENOSYS) \
    X(429, "move_mount", LVM_SC_FATAL, ENOSYS) \
    X(430, "fsopen", LVM_SC_FATAL, ENOSYS) \
    X(431, "fsconfig", LVM_SC_FATAL, ENOSYS) \
    X(432, "fsmount", LVM_SC_FATAL, ENOSYS) \
    X(433, "fspick", LVM_SC_FATAL, ENOSYS) \
    X(434, "pidfd_open", LVM_SC_FATAL, ENOSYS) \
    X(435, "clone3", LVM_SC_TRAP, ENOSYS) \
    X(436, "close_range", LVM_SC_TRAP, ENOSYS) \
    X(437, "openat2", LVM_SC_TRAP, ENOENT) \
    X(438, "pidfd_getfd", LVM_SC_FATAL, ENOSYS) \
    X(439, "faccessat2", LVM_SC_TRAP, ENOENT) \
    X(440, "process_madvise", LVM_SC_FATAL, ENOSYS) \
    X(441, "epoll_pwait2", LVM_SC_TRAP, EBADF) \
    X(442, "mount_setattr", LVM_SC_FATAL, ENOSYS) \
    X(443, "quotactl_fd", LVM_SC_FATAL, ENOSYS) \
    X(444, "landlock_create_ruleset", LVM_SC_TRAP, EPERM) \
    X(445, "landlock_add_rule", LVM_SC_TRAP, EPERM) \
    X(446, "landlock_restrict_self", LVM_SC_TRAP, EPERM) \
    X(447, "memfd_secret", LVM_SC_TRAP, ENOSYS) \
    X(448, "process_mrelease", LVM_SC_FATAL, ENOSYS) \
    X(449, "futex_waitv", LVM_SC_TRAP, ENOSYS) \
    X(450, "set_mempolicy_home_node", LVM_SC_TRAP, EPERM) \
    X(451, "cachestat", LVM_SC_TRAP, EBADF) \
    X(452, "fchmodat2", LVM_SC_TRAP, EROFS) \
    X(453, "map_shadow_stack", LVM_SC_TRAP, ENOSYS) \
    X(454, "futex_wake", LVM_SC_TRAP, ENOSYS) \
    X(455, "futex_wait", LVM_SC_TRAP, ENOSYS) \
    X(456, "futex_requeue", LVM_SC_TRAP, ENOSYS) \
    X(457, "statmount", LVM_SC_TRAP, ENOSYS) \
    X(458, "listmount", LVM_SC_TRAP, ENOSYS) \
    X(459, "lsm_get_self_attr", LVM_SC_TRAP, ENOSYS) \
    X(460, "lsm_set_self_attr", LVM_SC_TRAP, EPERM) \
    X(461, "lsm_list_modules", LVM_SC_TRAP, ENOSYS) \
    X(462, "mseal", LVM_SC_TRAP, ENOSYS) \
    X(463, "setxattrat", LVM_SC_TRAP, EROFS) \
    X(464, "getxattrat", LVM_SC_TRAP, ENOENT) \
    X(465, "listxattrat", LVM_SC_TRAP, ENOENT) \
    X(466, "removexattrat", LVM_SC_TRAP, EROFS) \
    X(467, "open_tree_attr", LVM_SC_FATAL, ENOSYS)
/* clang-format on */

#endif /* LIGHTVM_SYSCALLS_H */
