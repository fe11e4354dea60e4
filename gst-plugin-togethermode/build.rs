//! Build script: the plugin version, commit id and release date that `gst::plugin_define!`
//! reads (`COMMIT_ID`, `BUILD_REL_DATE`).

fn main() {
    gst_plugin_version_helper::info()
}
