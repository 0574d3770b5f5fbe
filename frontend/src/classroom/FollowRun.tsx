// A student sees the teacher's run, not just its step count: the loss curve, the decision
// boundary or fit, and (through the shared train store) the live views on the nodes. Watched
// read-only: the page holds no edit token for the run.
import { useEffect } from "react";
import { BoundaryView } from "../train/BoundaryView";
import { LossChart } from "../train/LossChart";
import { useTrain } from "../train/store";
import { useFollow } from "./follow";

export function FollowRun() {
  const runId = useFollow((s) => s.runId);
  const attached = useTrain((s) => s.run?.id ?? null);
  useEffect(() => {
    if (!runId) return;
    // The follow link stays as it is: attaching would add ?run= to the address.
    const link = window.location.href;
    const keep = () => window.history.replaceState(window.history.state, "", link);
    void useTrain.getState().attach(runId, { token: null, sig: null }).then(keep);
    return () => {
      useTrain.getState().detach();
      keep();
    };
  }, [runId]);
  if (!runId || attached !== runId) return null;
  return (
    <section className="cx-follow-run" data-testid="follow-run-view" aria-label="The teacher's run">
      <h2 className="cx-follow-run-head">Teacher's run</h2>
      <div className="cx-follow-run-body">
        <div className="cx-follow-run-loss">
          <LossChart />
        </div>
        <BoundaryView />
      </div>
    </section>
  );
}
