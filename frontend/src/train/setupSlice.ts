// What the panel is set to: the dataset and the trainer settings, kept per graph. Live
// settings (LIVE) reach a live run at once.

import { useEditor } from "../store/editor";
import { describeError, trainApi } from "./api";
import { savedSettings, savedUploads, type Upload } from "./persist";
import { runRequests, token } from "./requests";
import { watchableSpeed } from "./runs";
import { DEFAULT_SETTINGS, LIVE, settingsFrom, type TrainSettings } from "./settings";
import type { TrainSlice } from "./store";
import type { DatasetInfo, DatasetSpec } from "./types";

export interface SetupSlice {
  datasets: DatasetInfo[];
  uploads: Upload[];
  dataset: DatasetSpec;
  settings: TrainSettings;

  loadDatasets: () => Promise<void>;
  setDataset: (patch: Partial<DatasetSpec>) => void;
  chooseDataset: (name: string) => void;
  addUpload: (u: Upload) => void;
  setSetting: (name: string, value: unknown) => void;
  applyExample: (
    dataset?: Record<string, unknown> | null,
    train?: Record<string, unknown> | null,
  ) => void;
}

export const DEFAULT_DATASET: DatasetSpec = {
  name: "spiral",
  seed: 0,
  test_fraction: 0.2,
  normalize: true,
};

export const createSetupSlice: TrainSlice<SetupSlice> = (set, get) => {
  const persist = () => savedSettings.write(get());
  // the document carries the dataset and settings: a change by hand leaves it unsaved
  const changed = () => {
    persist();
    useEditor.getState().touch();
  };
  const { merge } = runRequests(set, get);

  return {
    datasets: [],
    uploads: savedUploads.read(),
    dataset: { ...DEFAULT_DATASET },
    settings: { ...DEFAULT_SETTINGS },

    loadDatasets: async () => {
      try {
        set({ datasets: await trainApi.datasets() });
      } catch (err) {
        set({ message: { kind: "error", text: `Could not list datasets: ${describeError(err)}` } });
      }
    },

    setDataset: (patch) => {
      set((s) => ({ dataset: { ...s.dataset, ...patch } }));
      changed();
    },

    chooseDataset: (name) => {
      const { dataset } = get();
      // A new dataset starts from its own defaults; split, seed and normalising carry over.
      set({
        dataset: {
          name,
          seed: dataset.seed,
          test_fraction: dataset.test_fraction,
          normalize: dataset.normalize,
        },
      });
      changed();
    },

    addUpload: (u) => {
      const uploads = [u, ...get().uploads.filter((x) => x.id !== u.id)].slice(0, 20);
      savedUploads.write(uploads);
      set({ uploads });
    },

    setSetting: (name, value) => {
      set((s) => ({ settings: { ...s.settings, [name]: value } }));
      changed();
      const run = get().run;
      // Live settings reach a live run at once.
      if (LIVE.has(name) && typeof value === "number" && run?.live && token(run)) {
        if (name === "momentum" && run.config.optimizer !== "momentum") return;
        void merge(trainApi.update(run.id, { [name]: value }, token(run) as string)).catch((err) =>
          set({ message: { kind: "error", text: describeError(err) } }),
        );
      }
    },

    applyExample: (dataset, train) => {
      if (dataset && typeof dataset.name === "string") {
        set({
          dataset: { ...DEFAULT_DATASET, ...(dataset as Partial<DatasetSpec>) } as DatasetSpec,
        });
      }
      if (train) {
        const settings = settingsFrom(train);
        // An example is there to be watched: pace it to last about eight seconds (the speed
        // setting shows it; "as fast as it goes" is one click away).
        if (train.speed === undefined) {
          settings.speed = watchableSpeed(settings, get().dataset, get().datasets);
        }
        set({ settings });
      }
      persist();
    },
  };
};
