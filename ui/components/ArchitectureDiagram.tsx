/** Draws a laid-out Architecture diagram (see state/architecture.ts) as one inline SVG. */
import {
  BOX,
  type DiagramLayout,
  FONT,
  type PlacedEdge,
  type PlacedNode,
} from "../state/architecture.ts";

export interface ArchitectureDiagramProps {
  layout: DiagramLayout;
  /** The SVG's accessible name. */
  label: string;
}

function Node({ node }: { node: PlacedNode }) {
  const { x, y } = node;
  return (
    <g class={`node node-${node.id}${node.warn ? " node-warn" : ""}`}>
      <rect x={x} y={y} width={node.width} height={node.height} rx="10" />
      <text x={x + BOX.padX} y={y + BOX.titleBaseline} class="node-title" font-size={FONT.title}>
        {node.title}
      </text>
      {node.lines.map((line, i) => (
        <text
          key={i}
          x={x + BOX.padX}
          y={y + BOX.titleBaseline + (i + 1) * BOX.lineHeight}
          class={node.noteLine && i === 0 ? "node-line node-note" : "node-line"}
          font-size={FONT.line}
        >
          {line}
        </text>
      ))}
    </g>
  );
}

function Edge({ edge }: { edge: PlacedEdge }) {
  return (
    <g class={`edge edge-${edge.id}${edge.active ? " active" : ""}`}>
      <path d={edge.d} marker-end="url(#arrow)" />
      {edge.labels.map((l) => (
        <text
          key={l.text}
          x={l.x}
          y={l.y}
          class="edge-label"
          text-anchor={l.anchor}
          font-size={FONT.edge}
        >
          {l.text}
        </text>
      ))}
    </g>
  );
}

export function ArchitectureDiagram({ layout, label }: ArchitectureDiagramProps) {
  return (
    <svg
      class={`diagram-${layout.mode}`}
      width={layout.maxWidth}
      viewBox={`0 0 ${layout.width} ${layout.height}`}
      role="img"
      aria-label={label}
    >
      <defs>
        <marker
          id="arrow"
          viewBox="0 0 10 10"
          refX="9"
          refY="5"
          markerWidth="7"
          markerHeight="7"
          orient="auto-start-reverse"
        >
          <path d="M0 0L10 5L0 10z" class="arrow-head" />
        </marker>
      </defs>
      {layout.edges.map((e) => <Edge key={e.id} edge={e} />)}
      {layout.nodes.map((n) => <Node key={n.id} node={n} />)}
    </svg>
  );
}
