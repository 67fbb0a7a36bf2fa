//! `image instances`: a query. It reads which image each instance was
//! created from (`volatile.base_image`) and the images' aliases through the
//! executor's fact reader, and prints one row per instance. One labelling
//! rule for both backends (D29): the image's aliases, sorted and
//! comma-joined, else the first 12 characters of its fingerprint (also for
//! an image that no longer exists).

use crate::cli::{Format, GlobalArgs, ImageCmd};
use crate::plan::{Builder, Settings};
use crate::runtime::RunError;
use std::io::Write;

/// One instance and the image it was made from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Row {
    pub image: String,
    pub instance: String,
    pub fingerprint: String,
}

pub fn run(g: &GlobalArgs, c: &ImageCmd, out: &mut dyn Write) -> anyhow::Result<()> {
    let ImageCmd::Instances(q) = c;
    let project = g.project.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "default".into());
    let settings = Settings { backend: super::backend(g), wait_network: None, force: false };
    let mut b = Builder::new("image instances", settings);
    b.program(b.backend().cli());
    let (bases, images) = (b.base_images(&project), b.images(&project));
    let plan = b.finish();
    let facts = crate::runtime::execute::read_facts(&plan)?;
    let get = |v: &str| facts.get(v).cloned().unwrap_or_default();
    let rows = rows(&get(&bases), &get(&images)).map_err(RunError)?;
    match q.format {
        Format::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"format_version": 1, "instances": rows}))?
        )?,
        Format::Text => {
            let cells: Vec<Vec<String>> = rows.into_iter().map(|r| vec![r.image, r.instance]).collect();
            out.write_all(crate::table::render(&["IMAGE", "INSTANCE"], &cells).as_bytes())?;
        }
    }
    Ok(())
}

/// The rows from `list` (`name,fingerprint` lines) and `image list`'s JSON,
/// sorted by image, then instance. Instances not made from an image are
/// left out.
pub fn rows(list: &[u8], images: &[u8]) -> Result<Vec<Row>, String> {
    let images: Vec<serde_json::Value> = if images.iter().all(u8::is_ascii_whitespace) {
        Vec::new()
    } else {
        serde_json::from_slice(images).map_err(|e| format!("cannot read the image list: {e}"))?
    };
    let label = |fp: &str| -> String {
        let image = images.iter().find(|i| i["fingerprint"].as_str() == Some(fp));
        let mut aliases: Vec<String> = image
            .and_then(|i| i["aliases"].as_array())
            .map(|a| a.iter().filter_map(|x| x["name"].as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        aliases.sort();
        if aliases.is_empty() { fp.chars().take(12).collect() } else { aliases.join(",") }
    };
    let text = String::from_utf8_lossy(list);
    let mut rows = Vec::new();
    for line in text.split('\n').filter(|l| !l.is_empty()) {
        let (name, fp) = line.split_once(',').unwrap_or((line, ""));
        if fp.is_empty() {
            continue;
        }
        rows.push(Row { image: label(fp), instance: name.to_string(), fingerprint: fp.to_string() });
    }
    rows.sort();
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_order() {
        let list = b"web2,aaaa1111bbbb2222\nweb1,aaaa1111bbbb2222\nold,ffff0000ffff0000ffff\nbare,\n";
        let images = br#"[{"fingerprint":"aaaa1111bbbb2222","aliases":[{"name":"tiny"},{"name":"alpine"}]}]"#;
        let r = rows(list, images).unwrap();
        let got: Vec<(&str, &str)> = r.iter().map(|r| (r.image.as_str(), r.instance.as_str())).collect();
        assert_eq!(got, vec![("alpine,tiny", "web1"), ("alpine,tiny", "web2"), ("ffff0000ffff", "old")]);
        assert!(rows(b"", b"not json").is_err());
    }
}
