import { ReactFlowProvider } from "@xyflow/react";
import { useEffect } from "react";
import {
  ClassroomLayer,
  ExplainPanel,
  FollowApp,
  isFollowPage,
  startFollowPage,
} from "./classroom";
import { SideTabs } from "./code/SideTabs";
import "./code/code.css";
import "./layout/narrow.css";
import { Canvas } from "./flow/Canvas";
import { useShortcuts } from "./flow/shortcuts";
import { useLayoutVars } from "./layout/useLayoutVars";
import { Dialogs } from "./panels/Dialogs";
import { Notice } from "./panels/Notice";
import { Palette } from "./panels/Palette";
import { forgetPointer, trackPointer } from "./panels/pointer";
import { TopBar } from "./panels/TopBar";
import { boot, startDocumentWiring } from "./store/documents";
import { startSync } from "./store/sync";
import { TrainDock } from "./train/TrainDock";

export function App({ autoBoot = true }: { autoBoot?: boolean }) {
  useEffect(() => {
    if (isFollowPage()) return startFollowPage(); // a student's view: no draft, no editor wiring
    const stopSync = startSync();
    const stopWiring = startDocumentWiring();
    if (autoBoot) void boot();
    return () => {
      stopSync();
      stopWiring();
    };
  }, [autoBoot]);

  return <ReactFlowProvider>{isFollowPage() ? <FollowApp /> : <Editor />}</ReactFlowProvider>;
}

function Editor() {
  useShortcuts();
  useLayoutVars();
  return (
    <div className="app">
      <TopBar />
      <aside className="palette" data-testid="palette">
        <Palette />
      </aside>
      <main
        className="canvas"
        data-testid="canvas"
        onMouseMove={trackPointer}
        onMouseLeave={forgetPointer}
      >
        <Canvas />
        <ExplainPanel />
      </main>
      <TrainDock />
      <aside className="inspector" data-testid="inspector">
        <SideTabs />
      </aside>
      <Dialogs />
      <Notice />
      <ClassroomLayer />
    </div>
  );
}
