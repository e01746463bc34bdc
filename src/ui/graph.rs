//! The policy's stage graph, drawn on the server as SVG: the four stages as
//! boxes, each rule an arrow labelled with the role that may move directly;
//! a gate rule into a guarded stage is drawn heavier. Presentation attributes
//! only (no `style`), so the page's Content-Security-Policy holds.

use std::fmt::Write as _;

use crate::db::enums::Stage;
use crate::domain::policy::Policy;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 330.0;
const BOX_W: f64 = 120.0;
const BOX_H: f64 = 40.0;

/// Where each stage's box is centred: a diamond, None on the left,
/// Production on the right.
fn centre(stage: Stage) -> (f64, f64) {
    match stage {
        Stage::None => (90.0, 165.0),
        Stage::Staging => (320.0, 50.0),
        Stage::Production => (550.0, 165.0),
        Stage::Archived => (320.0, 280.0),
    }
}

/// Where the segment from the centre of a box towards `(dx, dy)` leaves it.
fn exit(dx: f64, dy: f64) -> f64 {
    let sx = if dx == 0.0 {
        f64::INFINITY
    } else {
        (BOX_W / 2.0) / dx.abs()
    };
    let sy = if dy == 0.0 {
        f64::INFINITY
    } else {
        (BOX_H / 2.0) / dy.abs()
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

/// The graph of `policy`, an accessible inline SVG whose title and
/// description say what it shows (the rules table beside it says it again).
pub fn stage_graph(policy: &Policy) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg class="graph" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="graph-title graph-desc" xmlns="http://www.w3.org/2000/svg"><title id="graph-title">The stage graph</title><desc id="graph-desc">Each arrow is a rule of the lifecycle policy, labelled with the lowest role that may make the move directly; heavier arrows are gate rules into a guarded stage.</desc><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1b1f24"/></marker></defs>"##
    );
    for rule in policy.rules() {
        let (x1, y1) = centre(rule.from);
        let (x2, y2) = centre(rule.to);
        let (dx, dy) = (x2 - x1, y2 - y1);
        let length = (dx * dx + dy * dy).sqrt().max(1.0);
        // a rule and its reverse run side by side
        let (nx, ny) = (-dy / length * 9.0, dx / length * 9.0);
        let start = exit(dx, dy);
        let end = exit(dx, dy);
        let (ax, ay) = (x1 + dx * start + nx, y1 + dy * start + ny);
        let (bx, by) = (x2 - dx * end + nx, y2 - dy * end + ny);
        let gate = policy
            .guard(rule.to)
            .is_some_and(|guard| guard.is_gate(rule.from));
        let width = if gate { 3.5 } else { 1.5 };
        let _ = write!(
            svg,
            r##"<line x1="{ax:.1}" y1="{ay:.1}" x2="{bx:.1}" y2="{by:.1}" stroke="#1b1f24" stroke-width="{width}" marker-end="url(#arrow)"/>"##
        );
        let (lx, ly) = ((ax + bx) / 2.0 + nx * 1.6, (ay + by) / 2.0 + ny * 1.6);
        let label = if rule.approvals > 1 {
            format!("{} ({} approvals)", rule.direct, rule.approvals)
        } else {
            rule.direct.to_string()
        };
        let _ = write!(
            svg,
            r##"<text x="{lx:.1}" y="{ly:.1}" font-size="12" text-anchor="middle" fill="#1b1f24">{}</text>"##,
            text(&label)
        );
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
            r##"<rect x="{:.1}" y="{:.1}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{fill}" stroke="#1b1f24" stroke-width="{}"/><text x="{x:.1}" y="{:.1}" font-size="15" font-weight="600" text-anchor="middle" fill="#1b1f24">{}{}</text>"##,
            x - BOX_W / 2.0,
            y - BOX_H / 2.0,
            if guarded { 3 } else { 1 },
            y + 5.0,
            stage.as_str(),
            if guarded { " (guarded)" } else { "" },
        );
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
        assert!(svg.contains("Production (guarded)"), "{svg}");
        // the gate Staging -> Production is the one heavy arrow
        assert_eq!(svg.matches(r#"stroke-width="3.5""#).count(), 1, "{svg}");
        assert!(!svg.contains("style="), "the CSP allows no inline style");
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
    }
}
