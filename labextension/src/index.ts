/**
 * JupyterLab 4 / Notebook 7 plugin for the Python 3 (Elastic) kernel: "Restart Kernel with
 * State", "Checkpoint Now" and "Show Checkpoint Plan" (Kernel menu, notebook toolbar, command
 * palette, shortcut) and a status-bar item; all hidden unless the current kernel is elastic.
 * Menus, toolbar buttons and the shortcut are declared in schema/plugin.json.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';
import { LabIcon } from '@jupyterlab/ui-components';

import { checkpointNow, restartWithState, showPlan } from './actions';
import { ElasticEvents } from './events';
import { ElasticState } from './state';
import { StatusItem, StatusModel } from './status';

const PLUGIN_ID = 'elastic-kernel:plugin';

export namespace CommandIDs {
  export const restartWithState = 'elastic:restart-with-state';
  export const checkpoint = 'elastic:checkpoint';
  export const showPlan = 'elastic:show-plan';
}

const restartIcon = new LabIcon({
  name: 'elastic-kernel:restart-with-state',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<path class="jp-icon3" fill="#616161" d="M12 4V1L8 5l4 4V6c3.31 0 6 2.69 6 6 0 1.01-.25 ' +
    '1.97-.7 2.8l1.46 1.46A7.93 7.93 0 0 0 20 12c0-4.42-3.58-8-8-8zm0 14c-3.31 0-6-2.69-6-6 ' +
    '0-1.01.25-1.97.7-2.8L5.24 7.74A7.93 7.93 0 0 0 4 12c0 4.42 3.58 8 8 8v3l4-4-4-4v3z"/>' +
    '<circle class="jp-icon-accent0" fill="#1976d2" cx="12" cy="12" r="2.6"/></svg>'
});

const checkpointIcon = new LabIcon({
  name: 'elastic-kernel:checkpoint',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<path class="jp-icon3" fill="#616161" d="M17 3H5a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 ' +
    '0 0 2-2V7l-4-4zm-5 16a3 3 0 1 1 0-6 3 3 0 0 1 0 6zm3-10H5V5h10v4z"/></svg>'
});

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Restart with state, checkpoints and their status for the elastic kernel.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, IStatusBar],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    statusBar: IStatusBar | null
  ): void => {
    const { commands } = app;
    const state = new ElasticState(tracker);
    const status = new StatusModel(state);
    new ElasticEvents(tracker, () => void status.refresh(true));
    // One notification per id: toolbar buttons only re-check their visibility for their own id.
    state.changed.connect(() => {
      for (const id of Object.values(CommandIDs)) {
        if (commands.hasCommand(id)) {
          commands.notifyCommandChanged(id);
        }
      }
    });

    const usable = (): boolean => state.isElastic && !state.isBusy;
    const run = async <T>(action: (panel: NonNullable<typeof state.panel>) => Promise<T>) => {
      const panel = state.panel;
      if (panel === null || !usable()) {
        return;
      }
      state.setBusy(panel, true);
      try {
        await action(panel);
      } finally {
        state.setBusy(panel, false);
        await status.refresh(true);
      }
    };

    commands.addCommand(CommandIDs.restartWithState, {
      label: 'Restart Kernel with State',
      caption: 'Checkpoint the session, restart the kernel and restore the session into it',
      icon: args => (args.toolbar ? restartIcon : undefined),
      isVisible: () => state.isElastic,
      isEnabled: usable,
      execute: () => run(restartWithState)
    });
    commands.addCommand(CommandIDs.checkpoint, {
      label: 'Checkpoint Now',
      caption: 'Store the session now (what to store and what to re-run comes from the plan)',
      icon: args => (args.toolbar ? checkpointIcon : undefined),
      isVisible: () => state.isElastic,
      isEnabled: usable,
      execute: () => run(checkpointNow)
    });
    commands.addCommand(CommandIDs.showPlan, {
      label: 'Show Checkpoint Plan',
      caption: 'Which variables a checkpoint would store and which cells it would re-run',
      isVisible: () => state.isElastic,
      isEnabled: () => state.isElastic,
      execute: () => (state.panel ? showPlan(state.panel) : undefined)
    });

    if (palette) {
      for (const command of Object.values(CommandIDs)) {
        palette.addItem({ command, category: 'Kernel Operations' });
      }
    }
    if (statusBar) {
      const item = new StatusItem(status, () => void commands.execute(CommandIDs.showPlan));
      statusBar.registerStatusItem(PLUGIN_ID + ':status', {
        item,
        align: 'left',
        rank: 5,
        isActive: () => state.isElastic,
        activeStateChanged: state.changed
      });
    }
  }
};

export default plugin;
