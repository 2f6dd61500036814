//! The one table a bench run prints (and writes as Markdown for docs/performance.md).

pub struct Row {
    pub scenario: String,
    pub figure: String,
    /// Against the reference measured in the same run.
    pub ratio: String,
}

#[derive(Default)]
pub struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    pub fn push(&mut self, row: Row) {
        // Print as we go: a long run shows its progress.
        eprintln!("  {}: {}  {}", row.scenario, row.figure, row.ratio);
        self.rows.push(row);
    }

    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    pub fn markdown(&self, title: &str) -> String {
        let mut out =
            format!("{title}\n\n| scenario | figure | ratio (same run) |\n|---|---|---|\n");
        for r in &self.rows {
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                r.scenario, r.figure, r.ratio
            ));
        }
        for n in &self.notes {
            out.push_str(&format!("\n- {n}"));
        }
        out.push('\n');
        out
    }

    pub fn text(&self) -> String {
        let w = self
            .rows
            .iter()
            .map(|r| r.scenario.chars().count())
            .max()
            .unwrap_or(0);
        let f = self
            .rows
            .iter()
            .map(|r| r.figure.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for r in &self.rows {
            let pad = |s: &str, n: usize| {
                format!("{s}{}", " ".repeat(n.saturating_sub(s.chars().count())))
            };
            out.push_str(&format!(
                "{}  {}  {}\n",
                pad(&r.scenario, w),
                pad(&r.figure, f),
                r.ratio
            ));
        }
        for n in &self.notes {
            out.push_str(&format!("* {n}\n"));
        }
        out
    }
}
