mod import;

fn main() {
    if import::child_main_if_requested() {
        return;
    }
    import::run();
}
