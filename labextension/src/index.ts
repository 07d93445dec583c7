/**
 * zoom-notebook in JupyterLab 4 and Notebook 7: a Zoom bell on every cell (its mode kept
 * in the cell's metadata), a Zoom target for the notebook (in the notebook's metadata),
 * and a "Zoom" side panel. The browser only says when a watched cell ended; the Jupyter
 * server posts (through the Python package's delivery layer and outbox), so any kernel
 * language gets alerts and no token ever reaches the page.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { InputDialog, Notification } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import {
  INotebookTracker,
  Notebook,
  NotebookActions,
  NotebookPanel
} from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

const PLUGIN = 'zoom-notebook:plugin';
const KEY = 'zoom_notebook';
const MODES: { [label: string]: string } = {
  off: 'off',
  'when it ends': 'end',
  'when it fails': 'failure',
  'when it runs longer than N minutes': 'after'
};

const BELL = new LabIcon({
  name: 'zoom-notebook:bell',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16">' +
    '<path class="jp-icon3" fill="#616161" d="M12 22a2 2 0 0 0 2-2h-4a2 2 0 0 0 2 2zm6-6V11' +
    'c0-3.07-1.63-5.64-4.5-6.32V4a1.5 1.5 0 0 0-3 0v.68C7.64 5.36 6 7.92 6 11v5l-2 2v1h16v' +
    '-1l-2-2z"/></svg>'
});

interface ITarget {
  to_channel?: string;
  to_contact?: string;
}

interface INotebookMeta extends ITarget {
  notify?: string;
  after?: number;
}

interface ICellMeta {
  notify?: string;
  after?: number;
}

/** A request to the server extension (Jupyter's own auth and XSRF). */
async function api(route: string, body?: unknown): Promise<any> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'zoom-notebook', route);
  const init: RequestInit = body === undefined
    ? { method: 'GET' }
    : { method: 'POST', body: JSON.stringify(body) };
  const response = await ServerConnection.makeRequest(url, init, settings);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(data.error || data.message || `HTTP ${response.status}`);
  }
  return data;
}

function notebookMeta(panel: NotebookPanel | null): INotebookMeta | null {
  const meta = panel?.content.model?.getMetadata(KEY) as INotebookMeta | undefined;
  return meta && (meta.to_channel || meta.to_contact) ? meta : null;
}

function targetOf(meta: INotebookMeta): ITarget {
  return meta.to_channel ? { to_channel: meta.to_channel } : { to_contact: meta.to_contact };
}

function cellMode(panel: NotebookPanel, cell: any): { mode: string; after: number } {
  const nb = notebookMeta(panel) || {};
  const own = (cell.model.getMetadata(KEY) || {}) as ICellMeta;
  const mode = own.notify || nb.notify || 'off';
  const after = Number(own.after ?? nb.after ?? 60);
  return { mode, after: isFinite(after) ? after : 60 };
}

function describe(mode: string, after: number): string {
  switch (mode) {
    case 'end':
      return 'when it ends';
    case 'failure':
      return 'when it fails';
    case 'after':
      return `when it runs longer than ${after / 60} min`;
    default:
      return 'off';
  }
}

function plainText(node: HTMLElement, text: string): HTMLElement {
  node.textContent = text; // text from Zoom or a notebook is shown as text, never HTML
  return node;
}

/** The side panel: who is logged in, what was sent, the outbox, scheduled messages. */
class ZoomPanel extends Widget {
  constructor(private readonly open: (path: string, cellId: string | null) => void) {
    super();
    this.id = 'zoom-notebook-panel';
    this.title.icon = BELL;
    this.title.caption = 'Zoom';
    this.addClass('zn-panel');
  }

  protected onAfterAttach(): void {
    // while it is shown, the panel re-reads what the server keeps (no request to Zoom);
    // who is logged in and the scheduled messages ask Zoom: when it is opened, after an
    // action that changes them, and on Refresh
    this._timer = window.setInterval(() => {
      if (this.isVisible) {
        void this.refresh();
      }
    }, 3000);
  }

  protected onAfterShow(): void {
    void this.refresh(true);
  }

  protected onBeforeDetach(): void {
    window.clearInterval(this._timer);
  }

  async refresh(askZoom = false): Promise<void> {
    const node = this.node;
    if (askZoom || this._status === null) {
      [this._status, this._scheduled] = await Promise.all([
        api('status').catch(e => ({ error: String(e.message || e) })),
        api('scheduled').catch(e => ({ error: String(e.message || e) }))
      ]);
    }
    const [sent, outbox] = await Promise.all([
      api('sent').catch(() => []),
      api('outbox').catch(() => [])
    ]);
    node.replaceChildren();
    const head = document.createElement('h2');
    head.textContent = 'Zoom ';
    const again = document.createElement('button');
    again.className = 'jp-Button zn-refresh';
    again.textContent = 'Refresh';
    again.onclick = () => void this.refresh(true);
    head.appendChild(again);
    node.appendChild(head);
    node.appendChild(this.statusPart(this._status));
    node.appendChild(this.sentPart(sent));
    node.appendChild(this.outboxPart(outbox));
    node.appendChild(this.scheduledPart(this._scheduled));
  }

  private section(title: string, cls: string): HTMLElement {
    const part = document.createElement('section');
    part.className = cls;
    part.appendChild(plainText(document.createElement('h3'), title));
    return part;
  }

  private statusPart(status: any): HTMLElement {
    const part = this.section('Login', 'zn-status');
    const p = document.createElement('p');
    if (status.error && !status.logged_in) {
      p.textContent = `Not logged in: ${status.error}`;
    } else if (!status.logged_in) {
      p.textContent = 'Not logged in: run `zoom-notebook login` on the server';
    } else {
      const who = status.user_name
        ? `${status.user_name}${status.user_email ? ` <${status.user_email}>` : ''}`
        : 'a Zoom login';
      p.textContent = `${who} — ${status.method || ''} (on ${status.host})`;
    }
    part.appendChild(p);
    if (status.can) {
      part.appendChild(
        plainText(document.createElement('p'), `Can: ${status.can.join(', ')}`)
      );
    }
    return part;
  }

  private sentPart(sent: any[]): HTMLElement {
    const part = this.section('Sent from this server', 'zn-sent');
    const list = document.createElement('ul');
    for (const item of sent) {
      const li = document.createElement('li');
      li.className = `zn-item zn-${item.status}`;
      const when = new Date(item.at * 1000).toLocaleTimeString();
      li.appendChild(
        plainText(
          document.createElement('div'),
          `${when} → ${item.target}: ${item.status}`
        )
      );
      li.appendChild(plainText(document.createElement('div'), item.text));
      if (item.error) {
        li.appendChild(plainText(document.createElement('div'), item.error));
      }
      li.title = `${item.path} — click to go to the cell`;
      li.onclick = () => this.open(item.path, item.cell_id);
      list.appendChild(li);
    }
    if (!sent.length) {
      list.appendChild(plainText(document.createElement('li'), 'nothing yet'));
    }
    part.appendChild(list);
    return part;
  }

  private outboxPart(outbox: any[]): HTMLElement {
    const part = this.section('Outbox (not delivered)', 'zn-outbox');
    const list = document.createElement('ul');
    for (const rec of outbox) {
      const li = plainText(
        document.createElement('li'),
        `${rec.status} → ${rec.target}: ${rec.text}${rec.error ? ` (${rec.error})` : ''} `
      );
      li.className = 'zn-kept';
      for (const action of ['retry', 'discard']) {
        const button = document.createElement('button');
        button.className = `jp-Button zn-${action}-one`;
        button.textContent = action === 'retry' ? 'Retry' : 'Discard';
        button.onclick = async () => {
          await api('outbox', { action, ids: [rec.id] }).catch(e =>
            Notification.error(String(e))
          );
          void this.refresh();
        };
        li.appendChild(button);
      }
      list.appendChild(li);
    }
    if (!outbox.length) {
      list.appendChild(plainText(document.createElement('li'), 'empty'));
    }
    part.appendChild(list);
    if (outbox.length) {
      for (const action of ['retry', 'discard']) {
        const button = document.createElement('button');
        button.className = `jp-Button zn-${action}`;
        button.textContent = action === 'retry' ? 'Retry all' : 'Discard all';
        button.onclick = async () => {
          await api('outbox', { action }).catch(e => Notification.error(String(e)));
          void this.refresh();
        };
        part.appendChild(button);
      }
    }
    return part;
  }

  private scheduledPart(scheduled: any): HTMLElement {
    const part = this.section('Scheduled', 'zn-scheduled');
    const list = document.createElement('ul');
    if (!Array.isArray(scheduled)) {
      list.appendChild(plainText(document.createElement('li'), scheduled.error || '?'));
    } else {
      for (const msg of scheduled) {
        const li = plainText(
          document.createElement('li'),
          `${msg.when} → ${msg.target}: ${msg.text} `
        );
        const cancel = document.createElement('button');
        cancel.className = 'jp-Button zn-cancel';
        cancel.textContent = 'Cancel';
        cancel.onclick = async () => {
          await api('scheduled', {
            id: msg.id,
            to_channel: msg.to_channel,
            to_contact: msg.to_contact
          }).catch(e => Notification.error(String(e)));
          void this.refresh(true);
        };
        li.appendChild(cancel);
        list.appendChild(li);
      }
      if (!scheduled.length) {
        list.appendChild(plainText(document.createElement('li'), 'none'));
      }
    }
    part.appendChild(list);
    return part;
  }

  private _timer = 0;
  private _status: any = null;
  private _scheduled: any = null;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN,
  description: 'A Zoom bell on every cell, kernel deaths reported, a Zoom panel',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [IDocumentManager],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    docManager: IDocumentManager | null
  ) => {
    const started = new Map<string, number>();
    const mine = new Map<string, () => void>(); // outbox id -> send that alert anew
    const told = new Set<string>(); // failures already raised as notifications

    const panelOf = (notebook: Notebook): NotebookPanel | null =>
      tracker.find(p => p.content === notebook) || null;

    app.commands.addCommand('zoom-notebook:cell-bell', {
      label: () => {
        const panel = tracker.currentWidget;
        const cell = tracker.activeCell;
        if (!panel || !cell) {
          return 'Zoom alert';
        }
        const { mode, after } = cellMode(panel, cell);
        return `Zoom: ${describe(mode, after)}`;
      },
      caption: 'Zoom alert for this cell: off, when it ends, when it fails, or when it runs long',
      icon: BELL,
      isToggled: () => {
        const panel = tracker.currentWidget;
        const cell = tracker.activeCell;
        return !!panel && !!cell && cellMode(panel, cell).mode !== 'off';
      },
      execute: async () => {
        const panel = tracker.currentWidget;
        const cell = tracker.activeCell;
        if (!panel || !cell) {
          return;
        }
        const now = cellMode(panel, cell);
        const picked = await InputDialog.getItem({
          title: 'Zoom alert for this cell',
          items: Object.keys(MODES),
          current: Object.keys(MODES).find(k => MODES[k] === now.mode) || 'off'
        });
        if (!picked.button.accept || picked.value === null) {
          return;
        }
        const mode = MODES[picked.value];
        const meta: ICellMeta = { notify: mode };
        if (mode === 'after') {
          const minutes = await InputDialog.getNumber({
            title: 'Alert when the cell runs longer than (minutes)',
            value: now.after / 60
          });
          if (!minutes.button.accept || minutes.value === null) {
            return;
          }
          meta.after = Math.max(0, Number(minutes.value)) * 60;
        }
        cell.model.setMetadata(KEY, meta);
        if (!notebookMeta(panel) && mode !== 'off') {
          await app.commands.execute('zoom-notebook:notebook-target');
        }
        app.commands.notifyCommandChanged('zoom-notebook:cell-bell');
      }
    });

    app.commands.addCommand('zoom-notebook:notebook-target', {
      label: 'Zoom',
      caption: 'Where this notebook\'s Zoom alerts go (and its kernel deaths are reported)',
      icon: BELL,
      execute: async () => {
        const panel = tracker.currentWidget;
        if (!panel || !panel.content.model) {
          return;
        }
        const meta = (panel.content.model.getMetadata(KEY) || {}) as INotebookMeta;
        const where = await InputDialog.getText({
          title: 'Zoom target for this notebook',
          label: 'A channel (#name or its id) or a person (email)',
          text: meta.to_channel || meta.to_contact || ''
        });
        if (!where.button.accept || where.value === null) {
          return;
        }
        const value = where.value.trim();
        const next: INotebookMeta = { notify: meta.notify || 'off' };
        if (meta.after !== undefined) {
          next.after = meta.after;
        }
        if (!value) {
          panel.content.model.deleteMetadata(KEY);
        } else {
          if (value.includes('@')) {
            next.to_contact = value;
          } else {
            next.to_channel = value;
          }
          panel.content.model.setMetadata(KEY, next);
        }
      }
    });

    NotebookActions.executionScheduled.connect((_, { notebook, cell }) => {
      const panel = panelOf(notebook);
      const meta = notebookMeta(panel);
      if (!panel || !meta) {
        return;
      }
      started.set(cell.model.id, Date.now());
      const index = notebook.widgets.indexOf(cell);
      void api('cell-started', {
        path: panel.context.path,
        cell: `cell ${index + 1}`,
        target: targetOf(meta)
      }).catch(() => undefined);
    });

    NotebookActions.executed.connect((_, { notebook, cell, success, error }) => {
      const panel = panelOf(notebook);
      const meta = notebookMeta(panel);
      const began = started.get(cell.model.id);
      started.delete(cell.model.id);
      if (!panel || !meta || began === undefined || cell.model.type !== 'code') {
        return;
      }
      const { mode, after } = cellMode(panel, cell);
      if (mode === 'off') {
        return;
      }
      const count = (cell.model as any).executionCount;
      let text = '';
      if (error) {
        // the traceback's last lines (they end with the error); the server strips colours
        const lines = (error.traceback || [])
          .join('\n')
          .split('\n')
          // eslint-disable-next-line no-control-regex
          .filter(line => line.trim() && !/^(\x1b\[[0-9;]*m)*-{10,}/.test(line));
        text = lines.length
          ? lines.slice(-6).join('\n')
          : `${error.errorName}: ${error.errorValue}`;
      }
      const report = {
        path: panel.context.path,
        cell_id: cell.model.id,
        count: typeof count === 'number' ? count : null,
        took: (Date.now() - began) / 1000,
        failed: !success,
        error: text,
        mode,
        after,
        target: targetOf(meta)
      };
      const send = (): void => {
        void api('cell', report)
          .then(result => {
            if (result.id) {
              mine.set(result.id, send);
            } else if (result.posted && result.status === 'failed') {
              // refused before it reached the outbox (no login, an unknown #name)
              Notification.error(`Zoom: not sent to ${result.target}: ${result.error}`, {
                autoClose: false,
                actions: [{ label: 'Retry', callback: send }]
              });
            }
          })
          .catch(e =>
            Notification.error(`Zoom: the alert was not sent: ${e.message || e}`, {
              autoClose: false
            })
          );
      };
      send();
    });

    // A failed send becomes a notification with Retry (the outbox keeps the message).
    window.setInterval(async () => {
      if (!mine.size) {
        return;
      }
      const sent: any[] = await api('sent').catch(() => []);
      for (const item of sent) {
        if (!item.id || !mine.has(item.id) || told.has(item.id)) {
          continue;
        }
        if (item.status === 'sent') {
          mine.delete(item.id);
        } else if (item.status === 'failed' || item.status === 'unknown') {
          told.add(item.id);
          const again = mine.get(item.id);
          mine.delete(item.id);
          Notification.error(`Zoom: not sent to ${item.target}: ${item.error || item.status}`, {
            autoClose: false,
            actions: [
              {
                label: 'Retry',
                callback: () => {
                  if (item.kept) {
                    // the outbox keeps it: retried there (read back first if unknown)
                    void api('outbox', { action: 'retry', ids: [item.id] });
                  } else if (again) {
                    again(); // not kept (it would have failed as it was): sent anew
                  }
                }
              }
            ]
          });
        }
      }
    }, 3000);

    const open = async (path: string, cellId: string | null) => {
      if (!docManager) {
        return;
      }
      const widget = docManager.openOrReveal(path) as NotebookPanel | undefined;
      if (!widget || !cellId) {
        return;
      }
      await widget.context.ready;
      const notebook = widget.content;
      const index = notebook.widgets.findIndex(c => c.model.id === cellId);
      if (index >= 0) {
        notebook.activeCellIndex = index;
        void notebook.scrollToItem(index);
      }
    };

    const zoomPanel = new ZoomPanel((path, cellId) => void open(path, cellId));
    app.shell.add(zoomPanel, 'left', { rank: 900 });
    tracker.activeCellChanged.connect(() =>
      app.commands.notifyCommandChanged('zoom-notebook:cell-bell')
    );
  }
};

export default plugin;
