package host

import (
	"os/exec"
	"syscall"
)

// setProcAttr asks the kernel to send the plugin SIGTERM when the gateway
// dies, even by SIGKILL. (The signal follows the thread that started the
// child; the SDK also exits when it is re-parented, which covers the rest.)
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
