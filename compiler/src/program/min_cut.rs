//! A minimum s-t cut by max-flow (Edmonds-Karp: shortest augmenting paths,
//! found by breadth-first search). The tape planner uses it on graphs of a
//! few hundred vertices.

use std::collections::VecDeque;

/// Stands for "cannot be cut".
pub(crate) const UNBOUNDED: u64 = u64::MAX / 4;

struct Edge {
    to: usize,
    /// Capacity left (the reverse edge of a forward edge starts at 0).
    residual: u64,
}

/// A directed graph with edge capacities. Edge `2i` is the `i`-th added edge
/// and `2i + 1` its reverse, so `e ^ 1` pairs them.
pub(crate) struct FlowNetwork {
    edges: Vec<Edge>,
    leaving: Vec<Vec<usize>>,
}

impl FlowNetwork {
    pub fn new(vertices: usize) -> FlowNetwork {
        FlowNetwork {
            edges: Vec::new(),
            leaving: vec![Vec::new(); vertices],
        }
    }

    pub fn add_edge(&mut self, from: usize, to: usize, capacity: u64) {
        self.leaving[from].push(self.edges.len());
        self.edges.push(Edge {
            to,
            residual: capacity,
        });
        self.leaving[to].push(self.edges.len());
        self.edges.push(Edge {
            to: from,
            residual: 0,
        });
    }

    /// Pushes a maximum flow from `source` to `sink`, then returns the sink
    /// side of the minimum cut nearest the sink: the vertices that can still
    /// reach `sink` through edges with capacity left. An edge is cut when it
    /// leaves the complement and enters this set.
    pub fn min_cut_sink_side(&mut self, source: usize, sink: usize) -> Vec<bool> {
        while let Some(path) = self.shortest_augmenting_path(source, sink) {
            let bottleneck = path.iter().map(|&e| self.edges[e].residual).min();
            let bottleneck = bottleneck.unwrap_or(0);
            for &e in &path {
                self.edges[e].residual -= bottleneck;
                self.edges[e ^ 1].residual += bottleneck;
            }
        }
        // Backwards search from the sink: u reaches the sink if some edge
        // u -> w with capacity left enters a vertex w that does.
        let mut reaches = vec![false; self.leaving.len()];
        reaches[sink] = true;
        let mut queue = VecDeque::from([sink]);
        while let Some(w) = queue.pop_front() {
            for &back in &self.leaving[w] {
                // `back` is w -> u; its pair `back ^ 1` is u -> w.
                let u = self.edges[back].to;
                if !reaches[u] && self.edges[back ^ 1].residual > 0 {
                    reaches[u] = true;
                    queue.push_back(u);
                }
            }
        }
        reaches
    }

    /// The edges of a shortest path with capacity left, if any.
    fn shortest_augmenting_path(&self, source: usize, sink: usize) -> Option<Vec<usize>> {
        let mut arrived_by: Vec<Option<usize>> = vec![None; self.leaving.len()];
        let mut seen = vec![false; self.leaving.len()];
        seen[source] = true;
        let mut queue = VecDeque::from([source]);
        while let Some(u) = queue.pop_front() {
            for &e in &self.leaving[u] {
                let to = self.edges[e].to;
                if !seen[to] && self.edges[e].residual > 0 {
                    seen[to] = true;
                    arrived_by[to] = Some(e);
                    queue.push_back(to);
                }
            }
        }
        if !seen[sink] {
            return None;
        }
        let mut path = Vec::new();
        let mut at = sink;
        while let Some(e) = arrived_by[at] {
            path.push(e);
            at = self.edges[e ^ 1].to;
        }
        Some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_the_cheapest_edges_nearest_the_sink() {
        // s -> a -> b -> t, with a -> b and b -> t both of capacity 2 and
        // s -> a of capacity 5: both cheap edges are minimum cuts; the one
        // nearest the sink is b -> t.
        let (s, a, b, t) = (0, 1, 2, 3);
        let mut net = FlowNetwork::new(4);
        net.add_edge(s, a, 5);
        net.add_edge(a, b, 2);
        net.add_edge(b, t, 2);
        let sink_side = net.min_cut_sink_side(s, t);
        assert_eq!(sink_side, vec![false, false, false, true]);
    }

    #[test]
    fn parallel_paths_are_cut_separately() {
        let mut net = FlowNetwork::new(4);
        net.add_edge(0, 1, 3);
        net.add_edge(0, 2, UNBOUNDED);
        net.add_edge(1, 3, UNBOUNDED);
        net.add_edge(2, 3, 4);
        let sink_side = net.min_cut_sink_side(0, 3);
        assert_eq!(sink_side, vec![false, true, false, true]);
    }
}
