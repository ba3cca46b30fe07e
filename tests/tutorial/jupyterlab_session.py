"""Drive a real JupyterLab in Debian's Chromium for the notebook's browser test.

`Lab` starts `python -m jupyterlab` on 127.0.0.1 and a free port, with its own settings,
data and workspace folders (the project's JupyterLab overrides still apply, as for a user).
`Notebook` wraps a Playwright page with the few JupyterLab calls the test needs; they go
through `window.jupyterapp`, which `--expose-app-in-browser` provides.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Lab:
    """One JupyterLab server serving `root`, its Jupyter folders under `home`."""

    def __init__(self, root: Path, home: Path, environment: dict[str, str]):
        self.root, self.home = Path(root), Path(home)
        self.port, self.token = free_port(), secrets.token_hex(16)
        # PYTEST_* must not reach the kernel: ipykernel stops capturing native stderr under
        # pytest, and the test is there to see what a learner sees.
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("JUPYTER", "IPYTHON", "JPY_", "PYTEST_"))
        }
        self.env.update(environment, HOME=str(self.home), PYTHONUNBUFFERED="1")
        for variable, folder in (
            ("JUPYTER_CONFIG_DIR", "config"),
            ("JUPYTER_DATA_DIR", "data"),
            ("JUPYTER_RUNTIME_DIR", "runtime"),
            ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
            ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"),
            ("IPYTHONDIR", "ipython"),
            ("MPLCONFIGDIR", "matplotlib"),
        ):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
            self.env[variable] = str(self.home / folder)
        # Every cell in the page (not drawn lazily), and no news pop-up over the notebook.
        self._setting("@jupyterlab/notebook-extension:tracker", {"windowingMode": "none"})
        self._setting("@jupyterlab/apputils-extension:notification", {"fetchNews": "false"})
        self.log = self.home / "jupyterlab.log"
        self.process: subprocess.Popen | None = None

    def _setting(self, plugin: str, values: dict) -> None:
        package, name = plugin.split(":")
        path = Path(self.env["JUPYTERLAB_SETTINGS_DIR"]) / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}{'&' if '?' in path else '?'}token={self.token}"

    def _api(self, path: str, method: str = "GET") -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            answer.read()

    def start(self, timeout: float = 120) -> Lab:
        """Start the server and wait until it answers; raise with its log if it does not."""
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--expose-app-in-browser",
            "--LabApp.extension_manager=readonly",
            "--ServerApp.terminals_enabled=False",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.root,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited:\n{self.log.read_text()[-4000:]}")
            try:
                self._api("api/status")
                return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"JupyterLab did not answer in {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        """Shut the server and its kernels down."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self._api("api/shutdown", method="POST")
            self.process.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


PANEL = """(path) => window.jupyterapp.shell.widgets('main').find(w => w.context && w.context.path === path)"""
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# Opening is over when the kernel is idle and @jupyter-widgets/jupyterlab-manager has rebuilt the
# widgets the notebook saved: it does that after the kernel is up, and with saveState on
# (scripts/setup.sh) every widget it rebuilds marks the notebook modified. Once the kernel is up
# the extension gives the notebook's rendermime a widget factory bound to the notebook's widget
# manager; a throwaway renderer from it hands the manager over (a promise, kept in `managers`).
OPENED = f"""(path) => {{
  const p = ({PANEL})(path);
  if (!p || !p.context.isReady) return false;
  const k = p.sessionContext.session?.kernel;
  if (!k || k.status !== 'idle' || k.connectionStatus !== 'connected') return false;
  const factory = p.content.rendermime.getFactory('{WIDGET_VIEW}');
  const managers = (window.widgetManagers = window.widgetManagers || new WeakMap());
  if (!factory) return false;
  if (!managers.has(factory)) {{
    managers.set(factory, null);
    const renderer = factory.createRenderer({{mimeType: '{WIDGET_VIEW}'}});
    renderer._manager?.promise.then(manager => {{ managers.set(factory, manager); renderer.dispose(); }});
  }}
  const manager = managers.get(factory);
  if (!manager || !manager.restoredStatus) return false;
  const saved = (p.context.model.getMetadata('widgets') || {{}})['{WIDGET_STATE}'];
  return Object.keys(saved?.state || {{}}).every(id => manager.has_model(id));
}}"""


class Notebook:
    """A notebook open in the page: its cells, outputs, kernel and commands."""

    def __init__(self, page, lab: Lab, path: str):
        self.page, self.lab, self.path = page, lab, path

    def open(self) -> Notebook:
        """Open the notebook (a fresh workspace); wait for an idle kernel and its saved widgets."""
        self.page.goto(self.lab.url(f"lab/tree/{self.path}?reset"), wait_until="domcontentloaded")
        self.page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.shell", timeout=90_000
        )
        self.page.wait_for_function(OPENED, arg=self.path, timeout=120_000, polling=100)
        return self

    def js(self, body: str, argument=None):
        """Run JavaScript `body` with `panel` (the notebook) and `argument` in scope."""
        return self.page.evaluate(
            f"([path, argument]) => {{ const panel = ({PANEL})(path); {body} }}",
            [self.path, argument],
        )

    def wait_idle(self, timeout: float = 90_000) -> None:
        self.page.wait_for_function(
            f"""(path) => {{ const p = ({PANEL})(path);
                 const k = p && p.context.isReady && p.sessionContext.session?.kernel;
                 return !!k && k.status === 'idle' && k.connectionStatus === 'connected'; }}""",
            arg=self.path,
            timeout=timeout,
        )

    def command(self, name: str) -> None:
        """Start a JupyterLab command without waiting for it (Run All resolves only at the end);
        wait_command() waits for it."""
        self.js(
            f"window.jupyterapp.shell.activateById(panel.id); window.commandDone = null; "
            f"window.jupyterapp.commands.execute('{name}').then("
            "result => { window.commandDone = {result: result ?? null}; },"
            "error => { window.commandDone = {error: String(error)}; });"
        )

    def wait_command(self, timeout: float = 600_000):
        """Wait until the command started last has finished (Run All: every cell has run)."""
        done = self.page.wait_for_function("() => window.commandDone", timeout=timeout)
        outcome = done.json_value()
        if "error" in outcome:
            raise RuntimeError(f"the JupyterLab command failed: {outcome['error']}")
        return outcome["result"]

    def save(self) -> None:
        self.js("window.jupyterapp.shell.activateById(panel.id);")
        self.page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        self.page.wait_for_function(
            f"(path) => !({PANEL})(path).context.model.dirty", arg=self.path, timeout=30_000
        )

    def dirty(self) -> bool:
        return self.js("return panel.context.model.dirty;")

    def cells(self) -> list[dict]:
        """Every cell: its type, source, tags, execution count and outputs (nbformat JSON)."""
        return self.js(
            """return panel.content.widgets.map(c => ({
                 type: c.model.type, source: c.model.sharedModel.getSource(),
                 tags: c.model.getMetadata('tags') || [],
                 count: c.model.type === 'code' ? c.model.executionCount : null,
                 state: c.model.type === 'code' ? c.model.executionState : null,
                 outputs: c.model.type === 'code' ? Array.from({length: c.model.outputs.length},
                   (_, j) => c.model.outputs.get(j).toJSON()) : [] }));"""
        )

    def index(self, starts_with: str) -> int:
        """The index of the code cell whose source starts with this text."""
        return next(
            i
            for i, cell in enumerate(self.cells())
            if cell["type"] == "code" and cell["source"].lstrip().startswith(starts_with)
        )

    def find(self, text: str) -> int:
        """The index of the first code cell whose source contains this text."""
        return next(
            i
            for i, cell in enumerate(self.cells())
            if cell["type"] == "code" and text in cell["source"]
        )

    def set_source(self, index: int, text: str) -> None:
        self.js(f"panel.content.widgets[{index}].model.sharedModel.setSource(argument);", text)

    def run_cell(self, index: int, timeout: float = 300_000) -> None:
        """Select the cell, run it (Run > Run Selected Cell), and wait until it has run."""
        before = self.cells()[index]["count"]
        self.js(
            f"panel.content.activeCellIndex = {index}; "
            "window.jupyterapp.shell.activateById(panel.id); "
            "window.jupyterapp.commands.execute('notebook:run-cell');"
        )
        self.page.wait_for_function(
            f"""([path, before]) => {{ const c = ({PANEL})(path).content.widgets[{index}];
                 return c.model.executionState === 'idle' && c.model.executionCount !== null
                   && c.model.executionCount !== before; }}""",
            arg=[self.path, before],
            timeout=timeout,
        )

    def wait_done(self, indices: list[int] | None = None, timeout: float = 600_000) -> None:
        """Wait until the kernel is idle and no code cell (of `indices`) runs or waits to run."""
        self.page.wait_for_function(
            f"""([path, indices]) => {{ const p = ({PANEL})(path);
                 const k = p.sessionContext.session?.kernel;
                 if (!k || k.status !== 'idle') return false;
                 return p.content.widgets.filter((c, i) => c.model.type === 'code'
                     && (!indices || indices.includes(i)))
                   .every(c => c.model.executionState === 'idle'); }}""",
            arg=[self.path, indices],
            timeout=timeout,
        )

    def screenshot(self, index: int, name: str) -> Path:
        """Scroll cell `index` into view and save a screenshot beside the server's log."""
        self.js(f"panel.content.scrollToItem({index}, 'start');")
        self.page.wait_for_timeout(500)
        path = self.lab.home / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def stop_button(self) -> None:
        """Click the toolbar's stop button (interrupt the kernel)."""
        self.page.locator(
            ".jp-NotebookPanel:not(.lm-mod-hidden) jp-button[data-command='notebook:interrupt-kernel']"
        ).click()
