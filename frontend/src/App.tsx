import { ReactFlowProvider } from "@xyflow/react";
import { Canvas } from "./flow/Canvas";

export function App() {
  return (
    <ReactFlowProvider>
      <div className="app">
        <header className="topbar" data-testid="topbar">
          <span className="brand">Blockprop</span>
        </header>
        <aside className="palette" data-testid="palette" />
        <main className="canvas" data-testid="canvas">
          <Canvas />
        </main>
        <aside className="inspector" data-testid="inspector" />
      </div>
    </ReactFlowProvider>
  );
}
