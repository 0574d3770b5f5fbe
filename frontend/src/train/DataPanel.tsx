import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { describeError, trainApi } from "./api";
import { CLASS_COLORS, prepare, sequential } from "./draw";
import { useTrain } from "./store";
import type { DatasetParam, DatasetSample } from "./types";

const PREVIEW = 150;

type Store = ReturnType<typeof useTrain.getState>;

/** A dataset as the picker names it (also its tooltip: a long name is cut in the select). */
const datasetLabel = (d: Store["datasets"][number]) =>
  `${d.title} (${d.task === "classification" ? `${d.classes} classes` : "regression"}, ${d.features}-D)`;
const uploadLabel = (u: Store["uploads"][number]) => `${u.name} (${u.task}, ${u.features}-D)`;

/** Dataset picker: built-in datasets and this browser's uploads, their parameters, the
 * train/test split, a preview plot, and CSV upload. */
export function DataPanel() {
  const datasets = useTrain((s) => s.datasets);
  const uploads = useTrain((s) => s.uploads);
  const spec = useTrain((s) => s.dataset);
  const setDataset = useTrain((s) => s.setDataset);
  const choose = useTrain((s) => s.chooseDataset);
  const info = datasets.find((d) => d.name === spec.name);
  const upload = uploads.find((u) => u.id === spec.name);
  const params = (info?.param_spec ?? []) as DatasetParam[];

  return (
    <div className="data-panel">
      <label className="tf">
        <span>dataset</span>
        <select
          data-testid="dataset-select"
          title={info ? datasetLabel(info) : upload ? uploadLabel(upload) : spec.name}
          value={spec.name}
          onChange={(e) => choose(e.target.value)}
        >
          {!info && !upload && <option value={spec.name}>{spec.name}</option>}
          <optgroup label="Built-in">
            {datasets.map((d) => (
              <option key={d.name} value={d.name}>
                {datasetLabel(d)}
              </option>
            ))}
          </optgroup>
          {uploads.length > 0 && (
            <optgroup label="Uploaded">
              {uploads.map((u) => (
                <option key={u.id} value={u.id}>
                  {uploadLabel(u)}
                </option>
              ))}
            </optgroup>
          )}
        </select>
      </label>
      {info?.description && <p className="muted small-text">{info.description}</p>}
      <div className="tf-grid">
        {params.map((p) => (
          <NumberField
            key={p.name}
            id={`dataset-param-${p.name}`}
            label={p.name}
            title={p.doc ?? ""}
            value={(spec[p.name] as number | null | undefined) ?? p.default ?? null}
            int={p.type === "int"}
            min={p.min ?? undefined}
            max={p.max ?? undefined}
            onCommit={(v) => setDataset({ [p.name]: v })}
          />
        ))}
        <NumberField
          id="dataset-test-fraction"
          label="test fraction"
          title="share of the samples held out for testing"
          value={spec.test_fraction}
          min={0}
          max={0.9}
          step={0.05}
          onCommit={(v) => setDataset({ test_fraction: v ?? 0.2 })}
        />
        <NumberField
          id="dataset-seed"
          label="data seed"
          title="seed of the generated samples and the split"
          value={spec.seed}
          int
          min={0}
          onCommit={(v) => setDataset({ seed: v ?? 0 })}
        />
      </div>
      <label
        className="tf-check"
        title="standardise each feature (mean 0, std 1) on the training split"
      >
        <input
          type="checkbox"
          data-testid="dataset-normalize"
          checked={spec.normalize}
          onChange={(e) => setDataset({ normalize: e.target.checked })}
        />
        normalise features
      </label>
      <Preview />
      <Upload />
    </div>
  );
}

function Preview() {
  const spec = useTrain((s) => s.dataset);
  const [sample, setSample] = useState<DatasetSample | null>(null);
  const [error, setError] = useState<string | null>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const key = JSON.stringify(spec);

  useEffect(() => {
    const ctl = new AbortController();
    const t = setTimeout(() => {
      trainApi
        .sample(JSON.parse(key), ctl.signal)
        .then((s) => {
          setSample(s);
          setError(null);
        })
        .catch((err) => {
          if (!ctl.signal.aborted) setError(describeError(err));
        });
    }, 250);
    return () => {
      clearTimeout(t);
      ctl.abort();
    };
  }, [key]);

  useLayoutEffect(() => {
    const c = canvas.current;
    if (!c || !sample) return;
    const ctx = prepare(c, PREVIEW, PREVIEW);
    if (ctx) drawSample(ctx, sample);
  }, [sample]);

  if (error)
    return (
      <p className="error-text small-text" data-testid="dataset-error">
        {error}
      </p>
    );
  if (!sample) return <div className="preview-box muted">loading…</div>;
  const train = sample.split.filter((s) => s === "train").length;
  return (
    <div className="preview" data-testid="dataset-preview" data-rows={sample.x.length}>
      <canvas ref={canvas} style={{ width: PREVIEW, height: PREVIEW }} />
      <div className="muted small-text">
        {sample.task}, {sample.features} feature{sample.features === 1 ? "" : "s"}
        {sample.features > 2 ? " (first two shown)" : ""}
        <br />
        shown: {train} train ● {sample.x.length - train} test ○
      </div>
    </div>
  );
}

function drawSample(ctx: CanvasRenderingContext2D, s: DatasetSample) {
  const oneD = s.features === 1;
  const xs = s.x.map((r) => r[0]);
  const ys = oneD ? s.y.map((v) => Number(Array.isArray(v) ? v[0] : v)) : s.x.map((r) => r[1]);
  const vals = s.y.map((v) => Number(Array.isArray(v) ? v[0] : v));
  const ext = (a: number[]) => {
    const lo = Math.min(...a);
    const hi = Math.max(...a);
    const pad = (hi - lo || 1) * 0.06;
    return [lo - pad, hi + pad];
  };
  const [x0, x1] = ext(xs);
  const [y0, y1] = ext(ys);
  const [v0, v1] = ext(vals);
  ctx.fillStyle = "#fafbfc";
  ctx.fillRect(0, 0, PREVIEW, PREVIEW);
  s.x.forEach((_, i) => {
    const px = ((xs[i] - x0) / (x1 - x0)) * PREVIEW;
    const py = PREVIEW - ((ys[i] - y0) / (y1 - y0)) * PREVIEW;
    const color =
      s.task === "classification" && !oneD
        ? CLASS_COLORS[Math.abs(Math.round(vals[i])) % CLASS_COLORS.length]
        : oneD
          ? "#2f6fdb"
          : `rgb(${sequential((vals[i] - v0) / (v1 - v0))
              .map((c) => c | 0)
              .join(",")})`;
    ctx.beginPath();
    ctx.arc(px, py, 2.4, 0, Math.PI * 2);
    if (s.split[i] === "test") {
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.2;
      ctx.stroke();
    } else {
      ctx.fillStyle = color;
      ctx.fill();
    }
  });
}

function Upload() {
  const addUpload = useTrain((s) => s.addUpload);
  const choose = useTrain((s) => s.chooseDataset);
  const say = useTrain((s) => s.say);
  const input = useRef<HTMLInputElement>(null);
  return (
    <div className="upload">
      <button
        type="button"
        className="btn small"
        onClick={() => input.current?.click()}
        title="A CSV file: numeric columns, the target last (a header line is optional)"
      >
        Upload CSV…
      </button>
      <input
        ref={input}
        type="file"
        accept=".csv,text/csv,text/plain"
        hidden
        data-testid="dataset-upload"
        onChange={async (e) => {
          const file = e.target.files?.[0];
          e.target.value = "";
          if (!file) return;
          try {
            const created = await trainApi.upload(
              file.name.replace(/\.[^.]+$/, ""),
              await file.text(),
            );
            addUpload({
              id: created.id,
              name: created.name,
              task: created.task,
              features: created.features,
            });
            choose(created.id);
            say(
              "info",
              `Uploaded ${file.name}: ${created.rows} rows, ${created.features} features, ${created.task}.`,
            );
          } catch (err) {
            say("error", `Upload failed: ${describeError(err)}`);
          }
        }}
      />
    </div>
  );
}

/** A number field that commits on Enter or blur (so typing "0.0…" never sends a bad value). */
export function NumberField(props: {
  id: string;
  label: string;
  title?: string;
  value: number | null;
  int?: boolean;
  min?: number;
  max?: number;
  /** the bound itself is not allowed */
  minExclusive?: boolean;
  maxExclusive?: boolean;
  step?: number;
  nullable?: boolean;
  placeholder?: string;
  onCommit: (v: number | null) => void;
}) {
  const { id, label, title, value, int, min, max, step, nullable, placeholder, onCommit } = props;
  const { minExclusive, maxExclusive } = props;
  const [text, setText] = useState(value === null ? "" : String(value));
  const [bad, setBad] = useState(false);
  useEffect(() => {
    setText(value === null ? "" : String(value));
    setBad(false);
  }, [value]);
  const commit = () => {
    const t = text.trim();
    if (t === "" && nullable) {
      setBad(false);
      if (value !== null) onCommit(null);
      return;
    }
    const v = Number(t);
    const ok =
      t !== "" &&
      Number.isFinite(v) &&
      (!int || Number.isInteger(v)) &&
      (min === undefined || (minExclusive ? v > min : v >= min)) &&
      (max === undefined || (maxExclusive ? v < max : v <= max));
    setBad(!ok);
    if (ok && v !== value) onCommit(v);
  };
  return (
    <label className={`tf${bad ? " is-bad" : ""}`} title={title}>
      <span>{label}</span>
      <input
        data-testid={id}
        inputMode="decimal"
        value={text}
        placeholder={placeholder}
        step={step}
        onChange={(e) => setText(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === "Enter") commit();
          if (e.key === "Escape") setText(value === null ? "" : String(value));
        }}
      />
    </label>
  );
}
