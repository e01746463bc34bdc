//! The policy's stage graph, drawn on the server as SVG: the four stages as
//! boxes, each rule an arrow labelled with the role that may move directly;
//! a gate rule into a guarded stage is drawn heavier. Presentation attributes
//! only (no `style`), so the page's Content-Security-Policy holds.
//!
//! The layout is fixed (a diamond: None left, Staging top, Production right,
//! Archived below) and leaves room for every one of the twelve possible
//! rules at once: a rule and its reverse run side by side, each label sits
//! on its arrow's outer side and grows away from it, and the two arrows
//! that cross in the middle carry their labels off the crossing. A test
//! checks that no label meets another label, a box, an arrow or the edge.

use std::fmt::Write as _;

use crate::db::enums::Stage;
use crate::domain::policy::Policy;

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 470.0;
const BOX_W: f64 = 150.0;
const BOX_H: f64 = 54.0;
/// How far a rule and its reverse run apart from the line between centres.
const SIDE: f64 = 8.0;
/// Label text: its size, a generous width per character, a line's height.
const FONT: f64 = 12.0;
const CHAR_W: f64 = 7.2;
const LINE_H: f64 = 14.0;

/// Where each stage's box is centred.
fn centre(stage: Stage) -> (f64, f64) {
    match stage {
        Stage::None => (90.0, 235.0),
        Stage::Staging => (450.0, 45.0),
        Stage::Production => (810.0, 235.0),
        Stage::Archived => (450.0, 425.0),
    }
}

/// Where the segment from the centre of a box towards `(dx, dy)` leaves it
/// (with a little air), as a fraction of `(dx, dy)`.
fn exit(dx: f64, dy: f64) -> f64 {
    let sx = if dx == 0.0 {
        f64::INFINITY
    } else {
        (BOX_W / 2.0 + 4.0) / dx.abs()
    };
    let sy = if dy == 0.0 {
        f64::INFINITY
    } else {
        (BOX_H / 2.0 + 4.0) / dy.abs()
    };
    sx.min(sy)
}

/// Escapes text for SVG.
fn text(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An axis-aligned rectangle: left, top, right, bottom.
type Rect = (f64, f64, f64, f64);

/// One rule as drawn.
#[derive(Debug, Clone)]
struct Arrow {
    /// Start and end of the line.
    line: (f64, f64, f64, f64),
    /// The label's lines (the role; the approvals when more than one).
    label: Vec<String>,
    /// Where the label's text is anchored, and how (`start`, `middle`, `end`).
    at: (f64, f64),
    anchor: &'static str,
    /// The box the label's text takes.
    #[cfg_attr(not(test), expect(dead_code, reason = "the layout test reads it"))]
    bounds: Rect,
}

/// Lays out the arrow of the rule `from -> to` with its label.
fn arrow(from: Stage, to: Stage, label: Vec<String>) -> Arrow {
    let (x1, y1) = centre(from);
    let (x2, y2) = centre(to);
    let (dx, dy) = (x2 - x1, y2 - y1);
    let length = (dx * dx + dy * dy).sqrt().max(1.0);
    // the unit normal: a rule and its reverse have opposite ones
    let (ux, uy) = (-dy / length, dx / length);
    let cut = exit(dx, dy);
    let (ax, ay) = (x1 + dx * cut + ux * SIDE, y1 + dy * cut + uy * SIDE);
    let (bx, by) = (x2 - dx * cut + ux * SIDE, y2 - dy * cut + uy * SIDE);
    // the arrows through the middle label themselves before the crossing
    let along = match (from, to) {
        (Stage::None, Stage::Production) | (Stage::Production, Stage::None) => 0.3,
        (Stage::Staging, Stage::Archived) | (Stage::Archived, Stage::Staging) => 0.4,
        _ => 0.5,
    };
    let (px, py) = (
        ax + (bx - ax) * along + ux * 6.0,
        ay + (by - ay) * along + uy * 6.0,
    );
    let chars = label.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let (w, h) = (chars as f64 * CHAR_W, label.len() as f64 * LINE_H);
    // the text grows away from its line, on the normal's side
    let (left, top, anchor, x) = if ux.abs() < 0.2 {
        let top = if uy < 0.0 { py - h } else { py };
        (px - w / 2.0, top, "middle", px)
    } else if ux > 0.0 {
        (px, py - h / 2.0 + uy * h / 2.0, "start", px)
    } else {
        (px - w, py - h / 2.0 + uy * h / 2.0, "end", px)
    };
    Arrow {
        line: (ax, ay, bx, by),
        label,
        // the first baseline sits a font's height below the top
        at: (x, top + FONT - 1.0),
        anchor,
        bounds: (left, top, left + w, top + h),
    }
}

/// The lines of a rule's label.
fn label_of(role: &str, approvals: u32) -> Vec<String> {
    let mut lines = vec![role.to_owned()];
    if approvals > 1 {
        lines.push(format!("({approvals} approvals)"));
    }
    lines
}

/// The graph of `policy`, an accessible inline SVG whose title and
/// description say what it shows (the rules table beside it says it again).
pub fn stage_graph(policy: &Policy) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg class="graph" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="graph-title graph-desc" xmlns="http://www.w3.org/2000/svg"><title id="graph-title">The stage graph</title><desc id="graph-desc">Each arrow is a rule of the lifecycle policy, labelled with the lowest role that may make the move directly; heavier arrows are gate rules into a guarded stage.</desc><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1b1f24"/></marker></defs>"##
    );
    for rule in policy.rules() {
        let drawn = arrow(
            rule.from,
            rule.to,
            label_of(rule.direct.as_str(), rule.approvals),
        );
        let gate = policy
            .guard(rule.to)
            .is_some_and(|guard| guard.is_gate(rule.from));
        let width = if gate { 3.5 } else { 1.5 };
        let (ax, ay, bx, by) = drawn.line;
        let _ = write!(
            svg,
            r##"<line x1="{ax:.1}" y1="{ay:.1}" x2="{bx:.1}" y2="{by:.1}" stroke="#1b1f24" stroke-width="{width}" marker-end="url(#arrow)"/>"##
        );
        let (x, y) = drawn.at;
        let _ = write!(
            svg,
            r##"<text x="{x:.1}" y="{y:.1}" font-size="{FONT}" text-anchor="{}" fill="#1b1f24">"##,
            drawn.anchor
        );
        for (n, line) in drawn.label.iter().enumerate() {
            let dy = if n == 0 { 0.0 } else { LINE_H };
            let _ = write!(
                svg,
                r##"<tspan x="{x:.1}" dy="{dy}">{}</tspan>"##,
                text(line)
            );
        }
        svg.push_str("</text>");
    }
    for stage in Stage::ALL {
        let (x, y) = centre(stage);
        let guarded = policy.guard(stage).is_some();
        let fill = match stage {
            Stage::None => "#eef0f2",
            Stage::Staging => "#fff1c2",
            Stage::Production => "#d3f5dc",
            Stage::Archived => "#e7e3f4",
        };
        let _ = write!(
            svg,
            r##"<rect x="{:.1}" y="{:.1}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{fill}" stroke="#1b1f24" stroke-width="{}"/>"##,
            x - BOX_W / 2.0,
            y - BOX_H / 2.0,
            if guarded { 3 } else { 1 },
        );
        if guarded {
            // the name, and below it what it is, both inside the box
            let _ = write!(
                svg,
                r##"<text x="{x:.1}" y="{:.1}" font-size="15" font-weight="600" text-anchor="middle" fill="#1b1f24">{}</text><text x="{x:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#1b1f24">guarded</text>"##,
                y - 2.0,
                stage.as_str(),
                y + 14.0,
            );
        } else {
            let _ = write!(
                svg,
                r##"<text x="{x:.1}" y="{:.1}" font-size="15" font-weight="600" text-anchor="middle" fill="#1b1f24">{}</text>"##,
                y + 5.0,
                stage.as_str(),
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_graph_has_an_arrow_per_rule_and_a_box_per_stage() {
        let policy = Policy::default_rules();
        let svg = stage_graph(&policy);
        assert_eq!(svg.matches("<line ").count(), policy.rules().count());
        assert_eq!(svg.matches("<rect ").count(), 4);
        assert!(svg.contains(">Production</text>"), "{svg}");
        assert!(svg.contains(">guarded</text>"), "{svg}");
        // the gate Staging -> Production is the one heavy arrow
        assert_eq!(svg.matches(r#"stroke-width="3.5""#).count(), 1, "{svg}");
        assert!(!svg.contains("style="), "the CSP allows no inline style");
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
    }

    fn overlap(a: Rect, b: Rect) -> bool {
        a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
    }

    /// Whether the segment passes through the inside of `r` (sampled
    /// finely: a step is under a pixel).
    fn crosses((ax, ay, bx, by): (f64, f64, f64, f64), r: Rect) -> bool {
        (0..=600).any(|i| {
            let t = f64::from(i) / 600.0;
            let (x, y) = (ax + (bx - ax) * t, ay + (by - ay) * t);
            r.0 < x && x < r.2 && r.1 < y && y < r.3
        })
    }

    #[test]
    fn no_label_meets_another_label_a_box_an_arrow_or_the_edge_even_with_every_rule() {
        for label in [
            label_of("contributor", 1),
            label_of("contributor", 10),
            label_of("contributor", u32::MAX),
            label_of("approver", 2),
            label_of("admin", 1),
        ] {
            let arrows: Vec<Arrow> = Stage::ALL
                .into_iter()
                .flat_map(|from| Stage::ALL.into_iter().map(move |to| (from, to)))
                .filter(|(from, to)| from != to)
                .map(|(from, to)| arrow(from, to, label.clone()))
                .collect();
            assert_eq!(arrows.len(), 12);
            let boxes: Vec<Rect> = Stage::ALL
                .into_iter()
                .map(|stage| {
                    let (x, y) = centre(stage);
                    (
                        x - BOX_W / 2.0,
                        y - BOX_H / 2.0,
                        x + BOX_W / 2.0,
                        y + BOX_H / 2.0,
                    )
                })
                .collect();
            for (i, a) in arrows.iter().enumerate() {
                let r = a.bounds;
                assert!(
                    r.0 >= 0.0 && r.1 >= 0.0 && r.2 <= WIDTH && r.3 <= HEIGHT,
                    "{a:?} leaves the canvas"
                );
                for b in &arrows[i + 1..] {
                    assert!(!overlap(r, b.bounds), "{a:?} meets {b:?}");
                }
                for stage_box in &boxes {
                    assert!(!overlap(r, *stage_box), "{a:?} meets {stage_box:?}");
                }
                for b in &arrows {
                    assert!(!crosses(b.line, r), "{b:?} runs through {a:?}");
                }
            }
        }
        // the longest stage name fits its box
        let widest = Stage::ALL
            .into_iter()
            .map(|s| s.as_str().len())
            .max()
            .unwrap_or(0);
        assert!(widest as f64 * 9.5 < BOX_W);
    }
}
