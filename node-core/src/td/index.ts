/**
 * The TD guest launcher: what the CLI (`cocoon td ...`) and the app's owner mode use.
 *
 *   loadWorkerConfig / parseWorkerConfigText   validated worker config (one error line per field)
 *   buildQemuArgv                             the QEMU command (TDX or emulation), pure
 *   chooseAccel                               emulation's accelerator: KVM if it really works, else TCG
 *   launchTdGuest / createTdSupervisor        start/stop/status, console lines, state changes
 *   instanceStatus / stopInstance / streamConsoleLog   the same instance from another process
 */
export { EXAMPLE_CONFIG, instanceLayout, loadWorkerConfig, parseWorkerConfig, parseWorkerConfigText, stripJsonComments, type WorkerConfig } from './config.ts';
export { buildQemuArgv, guestCmdline, type Accel, type QemuArgsOptions, type QemuPaths } from './qemu-args.ts';
export { chooseAccel, probeKvm } from './accel.ts';
export { createTdSupervisor, launchTdGuest, type TdSupervisor, type TdSupervisorOptions } from './supervisor.ts';
export { instancePaths, readStatus, type InstancePaths, type TdState, type TdStatus } from './state-dir.ts';
export { instanceStatus, stopInstance, streamConsoleLog, type InstanceStatus } from './control.ts';
export { DEV_GUEST_OUT, guestSpec } from './guest-spec.ts';
