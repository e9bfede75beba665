//! SVG bar charts of the suite's figures (plotters, SVG backend only).

use std::path::Path;

use plotters::coord::ranged1d::{IntoSegmentedCoord, SegmentValue};
use plotters::prelude::*;

use crate::Error;
use crate::stats::num;

/// Colours of the series, then of wsvia's bars vs the others' in one-series charts.
const SERIES: [RGBColor; 3] = [
    RGBColor(0x4c, 0x72, 0xb0),
    RGBColor(0xdd, 0x84, 0x52),
    RGBColor(0x55, 0xa8, 0x68),
];
const WSVIA: RGBColor = RGBColor(0x2a, 0x9d, 0x8f);
const OTHER: RGBColor = RGBColor(0x9a, 0xa5, 0xb1);

/// One chart: categories (targets) on x, one bar per series in each.
#[derive(Debug, Clone)]
pub struct Bars {
    /// The title.
    pub title: String,
    /// The y axis' unit.
    pub unit: String,
    /// Category names.
    pub categories: Vec<String>,
    /// (series name, one value per category; `None` for no bar).
    pub series: Vec<(String, Vec<Option<f64>>)>,
}

/// Draw `bars` to an SVG file.
///
/// # Errors
/// [`Error::Io`] when the file cannot be written.
pub fn draw(bars: &Bars, path: &Path) -> Result<(), Error> {
    let fail = |e: &dyn std::fmt::Display| {
        Error::io(
            format!("draw {}", path.display()),
            std::io::Error::other(e.to_string()),
        )
    };
    let n = bars.categories.len().max(1);
    let max = bars
        .series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten())
        .fold(0.0f64, |a, b| a.max(*b));
    let top = if max > 0.0 { max * 1.18 } else { 1.0 };
    let width = (160 * n as u32 + 120).max(640);
    let root = SVGBackend::new(path, (width, 440)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(&bars.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..top)
        .map_err(|e| fail(&e))?;
    let names = bars.categories.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .x_label_style(("sans-serif", 11))
        .y_desc(bars.unit.as_str())
        .y_label_formatter(&|v| num(*v))
        .draw()
        .map_err(|e| fail(&e))?;
    let seg_px = chart.plotting_area().dim_in_pixel().0 as f64 / n as f64;
    let k = bars.series.len().max(1);
    let gap = (seg_px * 0.12).max(2.0);
    let bar_px = (seg_px - 2.0 * gap) / k as f64;
    for (s, (name, values)) in bars.series.iter().enumerate() {
        let colour = |i: usize| {
            if k > 1 {
                SERIES[s % SERIES.len()]
            } else if bars.categories[i].starts_with("wsvia") {
                WSVIA
            } else {
                OTHER
            }
        };
        let left = (gap + bar_px * s as f64) as i32;
        let right = (seg_px - gap - bar_px * (s + 1) as f64).max(0.0) as i32;
        let rects = values.iter().enumerate().filter_map(|(i, v)| {
            let v = (*v)?;
            let mut r = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), v),
                ],
                colour(i).filled(),
            );
            r.set_margin(0, 0, left as u32, right as u32);
            Some(r)
        });
        let drawn = chart.draw_series(rects).map_err(|e| fail(&e))?;
        if k > 1 {
            let c = SERIES[s % SERIES.len()];
            drawn
                .label(name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        }
        let labels = values.iter().enumerate().filter_map(|(i, v)| {
            let v = (*v)?;
            Some(Text::new(
                num(v),
                (SegmentValue::CenterOf(i), v + top * 0.01),
                ("sans-serif", 10),
            ))
        });
        if k == 1 {
            chart.draw_series(labels).map_err(|e| fail(&e))?;
        }
    }
    if k > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| fail(&e))?;
    }
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_an_svg_naming_every_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.svg");
        let bars = Bars {
            title: "echo".into(),
            unit: "msg/s".into(),
            categories: vec!["direct".into(), "wsvia-proxy".into(), "squid".into()],
            series: vec![("msg/s".into(), vec![Some(100.0), Some(80.0), None])],
        };
        draw(&bars, &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        for name in ["direct", "wsvia-proxy", "squid", "100", "80.0"] {
            assert!(svg.contains(&format!("\n{name}\n")), "{name} missing");
        }
        let grouped = Bars {
            series: vec![
                ("p50".into(), vec![Some(1.0), Some(2.0), Some(3.0)]),
                ("p99".into(), vec![Some(4.0), Some(5.0), Some(6.0)]),
            ],
            ..bars
        };
        draw(&grouped, &path).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().contains("p99"));
    }
}
