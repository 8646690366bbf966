// Set-up check: does Node (Dawn, npm `webgpu`) find a WebGPU adapter? Prints one line; exits 1 if not.
// Run by scripts/setup.sh after it installed something, or with SGLP_SETUP_CHECK=1.
import { create, globals } from 'webgpu';

// Mesa's Vulkan device-select layer connects to Wayland when WAYLAND_DISPLAY is set, and libwayland
// prints "error: XDG_RUNTIME_DIR is invalid or not set in the environment." when that is unset.
// Compute needs no window-system device choice; skip the layer unless the user steers it.
if (!process.env.XDG_RUNTIME_DIR && process.env.MESA_VK_DEVICE_SELECT === undefined) {
  process.env.NODEVICE_SELECT ??= '1';
}
Object.assign(globalThis, globals);

const HELP = `no WebGPU adapter found.
On Debian 12, as root, install Mesa's lavapipe (a CPU Vulkan driver) >= 24 from bookworm-backports
(bookworm's own Mesa 22.3 is rejected by Dawn) and the Vulkan loader, then run this again:
  printf 'Types: deb\\nURIs: http://deb.debian.org/debian\\nSuites: bookworm-backports\\nComponents: main\\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\\n' > /etc/apt/sources.list.d/bookworm-backports.sources
  apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers && apt-get install -y libvulkan1
(npm run setup, as root, does this.) Elsewhere: install a GPU's Vulkan driver, or Mesa's, and the Vulkan loader.`;

let adapter = null;
let error = null;
try {
  adapter = await create([]).requestAdapter();
} catch (e) {
  error = e;
}

if (!adapter) {
  const why = error ? `\n(${error instanceof Error ? error.message : String(error)})` : '';
  console.error(`check-adapter: ${HELP}${why}`);
  process.exit(1);
}

const info = adapter.info ?? {};
const line = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
console.log(`adapter: ${line || '(no adapter info)'}`);
// An instance of dawn.node keeps the process alive: exit explicitly.
process.exit(0);
