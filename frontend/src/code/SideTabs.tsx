// The right-hand side: the inspector, or the code of the drawing beside it.
import { useState } from "react";
import { Inspector } from "../panels/Inspector";
import { CodePanel } from "./CodePanel";

type Tab = "inspect" | "code";

export function SideTabs() {
  const [tab, setTab] = useState<Tab>("inspect");
  return (
    <>
      <div className="side-tabs" role="tablist" aria-label="Side panel">
        {(
          [
            ["inspect", "Inspector"],
            ["code", "Code"],
          ] as const
        ).map(([id, label]) => (
          <button
            key={id}
            type="button"
            role="tab"
            aria-selected={tab === id}
            className={tab === id ? "side-tab is-active" : "side-tab"}
            data-testid={`side-tab-${id}`}
            onClick={() => setTab(id)}
          >
            {label}
          </button>
        ))}
      </div>
      <div role="tabpanel" aria-label={tab === "code" ? "Code" : "Inspector"}>
        {tab === "code" ? <CodePanel /> : <Inspector />}
      </div>
    </>
  );
}
