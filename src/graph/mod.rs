//! `3ox graph`: a workflow definition as a diagram. [`model`] turns a definition into nodes,
//! edges and clusters (fork branches, switch cases, loop bodies, inline sub-workflows);
//! [`layout`] places them (a layered, top-down layout of nested boxes, which fits the
//! series-parallel shape of Conductor workflows); one file per output format writes the same
//! laid-out graph as Mermaid ([`mermaid`]), Graphviz DOT ([`dot`]) or SVG ([`svg`]).
//! [`overlay`] draws a run on its workflow's graph (states, the path taken, dynamic forks
//! expanded); the layout and renderers take that graph as any other.

pub mod dot;
pub mod layout;
pub mod mermaid;
pub mod model;
pub mod overlay;
pub mod svg;

pub use layout::{Layout, layout};
pub use model::{Graph, build};
pub use overlay::overlay;
