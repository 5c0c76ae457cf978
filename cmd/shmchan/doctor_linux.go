package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/shmchan/shmchan/internal/inspect"
	"github.com/shmchan/shmchan/internal/platform"
)

// diagnose runs every check, in the order a reader fixes them.
func diagnose(need uint64) []finding {
	var fs []finding
	fs = append(fs, shmSpace(need)...)
	fs = append(fs, shmPerm(), umask())
	fs = append(fs, container()...)
	fs = append(fs, namespaces()...)
	fs = append(fs, futexProbe(), ofdProbe(), fallocateProbe())
	fs = append(fs, limits(need)...)
	return fs
}

const shmDir = "/dev/shm"

// The fixes for a /dev/shm that is too small, by where the program runs.
const fixShmSize = "Docker: docker run --shm-size=1g (or --ipc=host to use the host's /dev/shm, or " +
	"--ipc=container:PEER to share a peer's; Compose: shm_size: 1gb); Kubernetes: mount an emptyDir " +
	"{medium: Memory, sizeLimit: 1Gi} at /dev/shm (it counts against the pod's memory limit); on a host: " +
	"mount -o remount,size=2G /dev/shm; and shmchan gc --yes removes leftovers of dead processes"

func shmSpace(need uint64) []finding {
	var st unix.Statfs_t
	if err := unix.Statfs(shmDir, &st); err != nil {
		return []finding{{Check: "shm-space", Status: checkFail, Message: fmt.Sprintf("%s: %v", shmDir, err),
			Fix: "mount a tmpfs there: mount -t tmpfs -o mode=1777,size=1G tmpfs /dev/shm; " + fixShmSize}}
	}
	var fs []finding
	if st.Type != unix.TMPFS_MAGIC {
		fs = append(fs, finding{Check: "shm-fstype", Status: checkWarn,
			Message: fmt.Sprintf("%s is not a tmpfs (file system type %#x): pages may be written to disk", shmDir, st.Type),
			Fix:     "mount a tmpfs on /dev/shm"})
	}
	bs := uint64(st.Bsize)
	total, free := st.Blocks*bs, st.Bavail*bs
	msg := fmt.Sprintf("%s: %s free of %s; %s asked (--need)", shmDir, size(free), size(total), size(need))
	if free < need {
		return append(fs, finding{Check: "shm-space", Status: checkFail,
			Message: fmt.Sprintf("%s: %s short (%d bytes free, %d asked)", msg, size(need-free), free, need),
			Fix:     fixShmSize})
	}
	if free < 2*need {
		return append(fs, finding{Check: "shm-space", Status: checkWarn,
			Message: msg + ": less than twice what is asked; one more program will not fit", Fix: fixShmSize})
	}
	return append(fs, finding{Check: "shm-space", Status: checkOK, Message: msg})
}

func shmPerm() finding {
	fi, err := os.Stat(shmDir)
	if err != nil {
		return finding{Check: "shm-perm", Status: checkFail, Message: err.Error()}
	}
	mode := fi.Mode()
	bits := mode.Perm()
	if mode&os.ModeSticky != 0 {
		bits |= 0o1000
	}
	msg := fmt.Sprintf("%s mode %04o", shmDir, uint32(bits))
	switch {
	case mode.Perm()&0o002 == 0 && os.Geteuid() != 0:
		return finding{Check: "shm-perm", Status: checkFail, Message: msg + ": this user cannot create objects",
			Fix: "chmod 1777 /dev/shm (or mount it with mode=1777)"}
	case mode.Perm()&0o002 == 0:
		return finding{Check: "shm-perm", Status: checkWarn, Message: msg + ": only root can create objects",
			Fix: "chmod 1777 /dev/shm (or mount it with mode=1777)"}
	case mode&os.ModeSticky == 0:
		return finding{Check: "shm-perm", Status: checkWarn, Message: msg + ": not sticky: any user can remove another's objects",
			Fix: "chmod +t /dev/shm"}
	}
	return finding{Check: "shm-perm", Status: checkOK, Message: msg}
}

// procStatus returns a field of /proc/self/status ("Umask", "NSpid").
func procStatus(field string) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == field {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func umask() finding {
	u := procStatus("Umask")
	if u == "" {
		return finding{Check: "umask", Status: checkInfo, Message: "umask unknown (no /proc/self/status)"}
	}
	return finding{Check: "umask", Status: checkInfo, Message: "umask " + u +
		": shmchan applies the mode it is given exactly (WithMode, default 0600: only this user), whatever the umask; " +
		"to share with another user, give both the same uid or a mode such as 0660 and a common group"}
}

// container says whether this process seems to run in a container, where
// /dev/shm is the container's own small one unless configured otherwise.
func container() []finding {
	what := ""
	switch {
	case exists("/.dockerenv"):
		what = "Docker"
	case exists("/run/.containerenv"):
		what = "Podman"
	case os.Getenv("KUBERNETES_SERVICE_HOST") != "":
		what = "Kubernetes"
	default:
		if b, err := os.ReadFile("/proc/1/cgroup"); err == nil {
			for _, k := range []string{"kubepods", "docker", "containerd", "lxc"} {
				if bytes.Contains(b, []byte(k)) {
					what = k
					break
				}
			}
		}
	}
	if what == "" {
		return nil
	}
	return []finding{{Check: "container", Status: checkInfo, Message: "running in a container (" + what +
		"): its /dev/shm is its own unless it shares the host's or a peer's (--ipc=host, --ipc=container:PEER), " +
		"and its PIDs are its own unless --pid is shared; peers in other containers see neither"}}
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// namespaces reports this process's PID and IPC namespaces, and the peers
// it can tell are in another PID namespace: a role whose lock is held (so its
// holder lives, as the kernel says) by a process whose token's PID is not
// this namespace's. Role locks (layout version 2) make liveness independent
// of PID namespaces, so such a peer works; only the PIDs that ls and inspect
// show are the peer's own namespace's, and mean nothing here. The owners
// that neither hold their lock nor show here are dead.
func namespaces() []finding {
	pidNS, _ := os.Readlink("/proc/self/ns/pid")
	ipcNS, _ := os.Readlink("/proc/self/ns/ipc")
	nspid := strings.Fields(procStatus("NSpid"))
	msg := fmt.Sprintf("PID namespace %s, IPC namespace %s", pidNS, ipcNS)
	if len(nspid) > 1 {
		msg += fmt.Sprintf(": a nested PID namespace (this process is pid %s here, %s outside)", nspid[len(nspid)-1], nspid[0])
	}
	fs := []finding{{Check: "namespaces", Status: checkInfo, Message: msg}}
	objs, err := inspect.List()
	if err != nil {
		return fs
	}
	var elsewhere []string
	for _, o := range objs {
		for _, r := range o.Roles {
			if r.State == inspect.StateAlive && r.Token != 0 && !platform.Alive(platform.Token(r.Token)) {
				elsewhere = append(elsewhere, fmt.Sprintf("%s (%s, pid %d there)", o.Name, r.Role, r.PID))
			}
		}
	}
	if len(elsewhere) > 0 {
		fs = append(fs, finding{Check: "peer-pidns", Status: checkInfo, Message: fmt.Sprintf(
			"%d role(s) held by processes in another PID namespace sharing this /dev/shm (their locks are held, "+
				"their PIDs are not this namespace's; liveness comes from the locks, so they work): %s",
			len(elsewhere), strings.Join(elsewhere, ", "))})
	}
	return fs
}

// futexProbe makes the two futex calls shmchan's waits make, on a shared
// (not private) word: a wait whose value does not match returns EAGAIN at
// once, and a wake with nobody waiting returns 0.
func futexProbe() finding {
	mem, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	if err != nil {
		return finding{Check: "futex", Status: checkWarn, Message: "could not map a page to probe: " + err.Error()}
	}
	defer unix.Munmap(mem)
	addr := uintptr(unsafe.Pointer(&mem[0]))
	_, _, e := unix.Syscall6(unix.SYS_FUTEX, addr, 0 /* FUTEX_WAIT, shared */, 1, 0, 0, 0)
	_, _, e2 := unix.Syscall6(unix.SYS_FUTEX, addr, 1 /* FUTEX_WAKE, shared */, 1, 0, 0, 0)
	if e != unix.EAGAIN || e2 != 0 {
		return finding{Check: "futex", Status: checkFail,
			Message: fmt.Sprintf("shared futex wait gave %v (want EAGAIN), wake gave %v: blocking waits cannot park", e, e2),
			Fix:     "a seccomp profile may forbid futex on shared memory: allow the futex system call"}
	}
	return finding{Check: "futex", Status: checkOK, Message: "shared futex wait and wake work"}
}

// probeFile creates a small object in /dev/shm for a probe and returns it,
// already unlinked.
func probeFile() (*os.File, error) {
	f, err := os.OpenFile(fmt.Sprintf("%s/shmchan-doctor-%d", shmDir, os.Getpid()), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	return f, os.Remove(f.Name())
}

// ofdProbe takes and drops an open-file-description lock on a byte range of
// an object, as layout v2's role locks do (Linux 3.15 and later).
func ofdProbe() finding {
	f, err := probeFile()
	if err != nil {
		return finding{Check: "ofd-locks", Status: checkWarn, Message: "could not create a probe object: " + err.Error()}
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 8, Len: 8}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		return finding{Check: "ofd-locks", Status: checkFail,
			Message: "F_OFD_SETLK on /dev/shm failed: " + err.Error() + ": the kernel cannot hold role locks",
			Fix:     "Linux 3.15 or later is needed; a seccomp profile may forbid fcntl locks"}
	}
	lk.Type = unix.F_UNLCK
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		return finding{Check: "ofd-locks", Status: checkFail, Message: "OFD unlock failed: " + err.Error()}
	}
	return finding{Check: "ofd-locks", Status: checkOK, Message: "open-file-description byte-range locks work on /dev/shm"}
}

// fallocateProbe reserves a page of an object, as every create does so that
// a full /dev/shm fails with ErrNoSpace instead of a SIGBUS later.
func fallocateProbe() finding {
	f, err := probeFile()
	if err != nil {
		return finding{Check: "fallocate", Status: checkWarn, Message: "could not create a probe object: " + err.Error()}
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, 4096); err != nil {
		return finding{Check: "fallocate", Status: checkFail,
			Message: "fallocate on /dev/shm failed: " + err.Error() + ": creates cannot reserve memory up front",
			Fix:     "/dev/shm must be a tmpfs (Linux 3.5 or later reserves tmpfs pages with fallocate)"}
	}
	return finding{Check: "fallocate", Status: checkOK, Message: "memory is reserved at create (a full /dev/shm gives ErrNoSpace, not SIGBUS)"}
}

// limits reports the limits that stop a create or a map: the memory cgroup
// (tmpfs pages count against the creator's), the file size limit (ftruncate)
// and the number of mappings (one per open channel or mailbox).
func limits(need uint64) []finding {
	var fs []finding
	if max, path := cgroupMemoryMax(); max > 0 {
		f := finding{Check: "memory-cg", Status: checkOK,
			Message: fmt.Sprintf("memory cgroup %s: limit %s; /dev/shm pages count against the creator's cgroup", path, size(max))}
		if max < need {
			f.Status, f.Fix = checkFail, "raise the container's memory limit above what /dev/shm must hold"
		}
		fs = append(fs, f)
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &rl); err == nil && rl.Cur != unix.RLIM_INFINITY {
		f := finding{Check: "rlimit", Status: checkOK, Message: fmt.Sprintf("file size limit %s", size(rl.Cur))}
		if rl.Cur < need {
			f.Status, f.Fix = checkFail, "ulimit -f unlimited: a segment larger than the limit cannot be sized"
		}
		fs = append(fs, f)
	}
	if b, err := os.ReadFile("/proc/sys/vm/max_map_count"); err == nil {
		fs = append(fs, finding{Check: "map-count", Status: checkInfo,
			Message: "vm.max_map_count " + strings.TrimSpace(string(b)) + ": each open channel or mailbox is one mapping"})
	}
	return fs
}

// cgroupMemoryMax reads this process's cgroup v2 memory.max; 0 if none or
// unlimited.
func cgroupMemoryMax() (uint64, string) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, ""
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			v, err := os.ReadFile("/sys/fs/cgroup" + p + "/memory.max")
			if err != nil {
				return 0, ""
			}
			n, err := strconv.ParseUint(strings.TrimSpace(string(v)), 10, 64)
			if err != nil {
				return 0, "" // "max"
			}
			return n, p
		}
	}
	return 0, ""
}
