/**
 * The canvas a task belongs to (parent/children, chains, groups, chords), drawn as a tree: one
 * column per generation, members of a group bracketed together, each node coloured by its state
 * (and labelled with it, so colour is not the only cue). Nodes are links to their task pages.
 */
import { href } from "../router";

export interface Node {
  id: string;
  name: string | null;
  state: string;
  parentId: string | null;
  groupId: string | null;
}

const W = 190;
const H = 34;
const GAP_X = 50;
const GAP_Y = 12;

export function layout(nodes: Map<string, Node>, rootId: string) {
  const children = new Map<string, Node[]>();
  const roots: Node[] = [];
  for (const node of nodes.values()) {
    if (node.parentId && nodes.has(node.parentId) && node.id !== node.parentId) {
      const list = children.get(node.parentId) ?? [];
      list.push(node);
      children.set(node.parentId, list);
    } else {
      roots.push(node);
    }
  }
  roots.sort((a, b) => (a.id === rootId ? -1 : b.id === rootId ? 1 : 0));
  const placed = new Map<string, { x: number; y: number; depth: number }>();
  let row = 0;
  const visit = (node: Node, depth: number, seen: Set<string>) => {
    if (seen.has(node.id)) return;
    seen.add(node.id);
    const kids = (children.get(node.id) ?? []).sort((a, b) => (a.groupId ?? "").localeCompare(b.groupId ?? ""));
    const start = row;
    for (const kid of kids) visit(kid, depth + 1, seen);
    const y = kids.length ? (start + row - 1) / 2 : row++;
    placed.set(node.id, { x: depth * (W + GAP_X), y: y * (H + GAP_Y), depth });
  };
  const seen = new Set<string>();
  for (const root of roots) visit(root, 0, seen);
  return { placed, children, rows: Math.max(row, 1) };
}

/** The node and everything below it. */
export function subtree(id: string, children: Map<string, Node[]>): string[] {
  const out: string[] = [];
  const stack = [id];
  const seen = new Set<string>();
  while (stack.length) {
    const current = stack.pop() as string;
    if (seen.has(current)) continue;
    seen.add(current);
    out.push(current);
    for (const kid of children.get(current) ?? []) stack.push(kid.id);
  }
  return out;
}

export function CanvasGraph(props: { nodes: Map<string, Node>; rootId: string; current: string }) {
  const { placed, rows } = layout(props.nodes, props.rootId);
  const depth = Math.max(0, ...[...placed.values()].map((p) => p.depth));
  const width = (depth + 1) * (W + GAP_X);
  const height = rows * (H + GAP_Y);
  const groups = new Map<string, { minY: number; maxY: number; x: number }>();
  for (const node of props.nodes.values()) {
    const p = placed.get(node.id);
    if (!node.groupId || !p) continue;
    const g = groups.get(node.groupId) ?? { minY: p.y, maxY: p.y, x: p.x };
    g.minY = Math.min(g.minY, p.y);
    g.maxY = Math.max(g.maxY, p.y);
    groups.set(node.groupId, g);
  }
  return (
    <div class="canvas-scroll">
      <svg
        class="canvas"
        width={width}
        height={height}
        viewBox={`0 0 ${width} ${height}`}
        role="group"
        aria-label={`Canvas of ${props.nodes.size} tasks`}
        data-testid="canvas"
      >
        {[...groups.entries()]
          .filter(([, g]) => g.maxY > g.minY)
          .map(([gid, g]) => (
            <rect key={gid} class="group-box" x={g.x - 6} y={g.minY - 4} width={W + 12} height={g.maxY - g.minY + H + 8} rx={8}>
              <title>group {gid}</title>
            </rect>
          ))}
        {[...props.nodes.values()].map((node) => {
          const p = placed.get(node.id);
          const parent = node.parentId ? placed.get(node.parentId) : undefined;
          if (!p || !parent) return null;
          return (
            <path
              key={`e-${node.id}`}
              class="edge"
              d={`M${parent.x + W},${parent.y + H / 2} C${parent.x + W + GAP_X / 2},${parent.y + H / 2} ${p.x - GAP_X / 2},${p.y + H / 2} ${p.x},${p.y + H / 2}`}
            />
          );
        })}
        {[...props.nodes.values()].map((node) => {
          const p = placed.get(node.id);
          if (!p) return null;
          return (
            <a key={node.id} href={href(["tasks", node.id])} data-node-id={node.id} data-state={node.state}>
              <rect
                class={`node state-${node.state.toLowerCase()}${node.id === props.current ? " current" : ""}`}
                x={p.x}
                y={p.y}
                width={W}
                height={H}
                rx={6}
              />
              <text x={p.x + 8} y={p.y + 14} class="node-name">
                {(node.name ?? node.id).replace(/^.*\./, "").slice(0, 24)}
              </text>
              <text x={p.x + 8} y={p.y + 28} class="node-state">
                {node.state} · {node.id.slice(0, 8)}
              </text>
            </a>
          );
        })}
      </svg>
    </div>
  );
}
