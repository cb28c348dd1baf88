# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_crmsync_global_optspecs
    string join \n config= state= profile= json q/quiet v/verbose color= h/help V/version
end

function __fish_crmsync_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_crmsync_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_crmsync_using_subcommand
    set -l cmd (__fish_crmsync_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c crmsync -n "__fish_crmsync_needs_command" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_needs_command" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_needs_command" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_needs_command" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_needs_command" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_needs_command" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_needs_command" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_needs_command" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_needs_command" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "connect" -d 'Sign in to a CRM and store its tokens in the OS keychain'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "disconnect" -d 'Revoke a connection\'s tokens where the CRM allows and remove them from the keychain'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "connections" -d 'List connections with their provider, account, token state and health; rename one, or forget its links'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "import" -d 'Load a CSV or JSONL file into the local store, or straight into a CRM'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "export" -d 'Write the local store\'s records as CSV or JSONL'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "sync" -d 'Two-way delta sync: pull from every connection, then push to every connection'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "listen" -d 'Real time: take HubSpot and Pipedrive webhooks and carry each change within seconds'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "status" -d 'Health per connection, last successful sync, and counts by record state'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "mappings" -d 'Field mappings: list them, check them against the CRM\'s fields, create missing fields'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "conflicts" -d 'List, show and resolve conflicts held by the `manual` policy'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "retry" -d 'Re-queue failed records so the next sync tries them again'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "records" -d 'Local records at hand: list, show, edit, archive and restore them'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "log" -d 'Past runs with counts and durations, or the audit trail of a record\'s field changes'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "profiles" -d 'List the profiles (config and state pairs chosen with `--profile`)'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "backup" -d 'Copy the state file (SQLite\'s online backup) to FILE, or into the set beside it'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "restore" -d 'Put a backup in place of the state file (the state file as it was is copied beside it first)'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "apply" -d 'Carry out a plan saved by `crmsync sync --plan FILE`'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "explain" -d 'Show a record\'s fields: base, local and remote values, direction, policy, last writer'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "teardown" -d 'Archive in a CRM exactly the records a tagged `import --to` created there'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "sandbox" -d 'Serve the built-in CRM sandboxes on 127.0.0.1'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "demo" -d 'Run the main job on the built-in sandboxes: sample data, two-way sync, conflicts, status'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "completions" -d 'Print shell completions for bash, zsh, fish, powershell or elvish'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "man" -d 'Print the man page, or write one page per command into a directory'
complete -c crmsync -n "__fish_crmsync_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c crmsync -n "__fish_crmsync_using_subcommand connect" -l name -d 'The connection\'s name [default: the provider\'s name]' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand connect" -l token-env -d 'Take a private-app or API token from this environment variable instead of signing in' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand connect" -l timeout -d 'Give up waiting for the browser after this many seconds' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand connect" -l client-id -d 'The OAuth app\'s client id [default: `client_id` in the connection\'s config]' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand connect" -l base-url -d 'The API base URL, to connect to a sandbox or emulator (written to the config)' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand connect" -l login-url -d 'Salesforce: sign in at this login host, such as the org\'s My Domain URL' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand connect" -l instance-url -d 'Salesforce: the org\'s API host, for a token from `--token-env` (a sign-in names it)' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand connect" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand connect" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand connect" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand connect" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand connect" -l token-stdin -d 'Read a private-app or API token from standard input instead of signing in'
complete -c crmsync -n "__fish_crmsync_using_subcommand connect" -l no-browser -d 'Print the sign-in URL instead of opening a browser'
complete -c crmsync -n "__fish_crmsync_using_subcommand connect" -l sandbox -d 'Salesforce: sign in to a sandbox org (at test.salesforce.com)'
complete -c crmsync -n "__fish_crmsync_using_subcommand connect" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand connect" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand connect" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand connect" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand connect" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand disconnect" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand disconnect" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand disconnect" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand disconnect" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand disconnect" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand disconnect" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand disconnect" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand disconnect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crmsync -n "__fish_crmsync_using_subcommand disconnect" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and not __fish_seen_subcommand_from rename forget-links help" -l since -d 'The window of `--history`, as `30m`, `12h`, `7d` or `2w`' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and not __fish_seen_subcommand_from rename forget-links help" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and not __fish_seen_subcommand_from rename forget-links help" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and not __fish_seen_subcommand_from rename forget-links help" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and not __fish_seen_subcommand_from rename forget-links help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and not __fish_seen_subcommand_from rename forget-links help" -l check -d 'Call each CRM to check the token, and keep what it says in the state file (else what was kept at sign-in and by the last check is shown)'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and not __fish_seen_subcommand_from rename forget-links help" -l history -d 'Per connection over a window: sync runs, failures, uptime, requests used'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and not __fish_seen_subcommand_from rename forget-links help" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and not __fish_seen_subcommand_from rename forget-links help" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and not __fish_seen_subcommand_from rename forget-links help" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and not __fish_seen_subcommand_from rename forget-links help" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and not __fish_seen_subcommand_from rename forget-links help" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and not __fish_seen_subcommand_from rename forget-links help" -f -a "rename" -d 'Rename a connection in the state file, keeping its links, cursors, failures and conflicts (then rename its table in the config, and give it its token under the new name)'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and not __fish_seen_subcommand_from rename forget-links help" -f -a "forget-links" -d 'Forget a connection\'s links, cursors, failures and the CRM account they belong to; local records stay, and the connection\'s next sync links them again by match keys, as a first sync does (for a connection pointed at another account)'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and not __fish_seen_subcommand_from rename forget-links help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from rename" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from rename" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from rename" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from rename" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from rename" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from rename" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from rename" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from rename" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from rename" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from forget-links" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from forget-links" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from forget-links" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from forget-links" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from forget-links" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from forget-links" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from forget-links" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from forget-links" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from forget-links" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from help" -f -a "rename" -d 'Rename a connection in the state file, keeping its links, cursors, failures and conflicts (then rename its table in the config, and give it its token under the new name)'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from help" -f -a "forget-links" -d 'Forget a connection\'s links, cursors, failures and the CRM account they belong to; local records stay, and the connection\'s next sync links them again by match keys, as a first sync does (for a connection pointed at another account)'
complete -c crmsync -n "__fish_crmsync_using_subcommand connections; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c crmsync -n "__fish_crmsync_using_subcommand import" -l object -d 'What the rows are' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand import" -l format -d 'The file\'s format [default: from the extension]' -r -f -a "csv\t''
jsonl\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand import" -l map -d 'Map a column to a field (`column=field`, `column=custom.name`, or `column=-` to drop it)' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand import" -l on-duplicate -d 'What to do with a row that matches an existing record [default: `import.on_duplicate`, else merge]' -r -f -a "merge\t'Fill and overwrite the existing record\'s fields with the row\'s non-empty values'
skip\t'Keep the existing record; the row is counted as skipped'
error\t'Reject the row, with its line number'"
complete -c crmsync -n "__fish_crmsync_using_subcommand import" -l blank -d 'What an empty cell does to a record the row updates: `keep` its value, or `clear` it' -r -f -a "keep\t'The field keeps its value: a file updates only what it has'
clear\t'The field is cleared'"
complete -c crmsync -n "__fish_crmsync_using_subcommand import" -l to -d 'After loading, sync these records to this connection (creates nothing twice)' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand import" -l tag -d 'Mark every record this import creates in the `--to` CRM with TAG (in its `crmsync_seed` field, made by `mappings setup`), for `crmsync teardown --tag TAG`' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand import" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand import" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand import" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand import" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand import" -l raw -d 'Read CSV values as they are: keep a `\'` that `crmsync export` puts before a value a spreadsheet would run (`\'=SUM(A1)`), instead of taking it off'
complete -c crmsync -n "__fish_crmsync_using_subcommand import" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand import" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand import" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crmsync -n "__fish_crmsync_using_subcommand import" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand export" -l object -d 'Which records' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand export" -l format -d 'The format [default: from the output file\'s extension, else csv]' -r -f -a "csv\t''
jsonl\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand export" -s o -l output -d 'Write to this file instead of standard output' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand export" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand export" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand export" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand export" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand export" -l include-archived -d 'Include archived records'
complete -c crmsync -n "__fish_crmsync_using_subcommand export" -l raw -d 'Write CSV values as they are, for programs; by default a value beginning with `=`, `+`, `-`, `@`, a tab or a carriage return gets a `\'` before it, so that a spreadsheet shows it instead of running it (import takes the `\'` off again)'
complete -c crmsync -n "__fish_crmsync_using_subcommand export" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand export" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand export" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand export" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand export" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand sync" -s c -l connection -d 'Only these connections [default: all]' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand sync" -l object -d 'Only these objects [default: all]' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand sync" -l plan -d 'Save the plan to FILE and stop; `crmsync apply FILE` carries it out' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand sync" -l max-requests -d 'Send at most this many requests to each connection in this run' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand sync" -l record -d 'Only this record, read by id: a local id, email, domain or CONNECTION:REMOTE-ID (repeatable)' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand sync" -l limit -d 'Create at most N records on each side of each connection; later runs do the rest' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand sync" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand sync" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand sync" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand sync" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand sync" -l dry-run -d 'Print the plan and stop; nothing is written'
complete -c crmsync -n "__fish_crmsync_using_subcommand sync" -l full -d 'Read everything from the CRMs instead of only what changed'
complete -c crmsync -n "__fish_crmsync_using_subcommand sync" -l force -d 'Go past the safety gates (mass archive, empty remote read)'
complete -c crmsync -n "__fish_crmsync_using_subcommand sync" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand sync" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand sync" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand sync" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand sync" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand listen" -l port -d 'The port to listen on' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand listen" -l bind -d 'The address to listen on (behind a reverse proxy or tunnel: 127.0.0.1)' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand listen" -l public-url -d 'The URL the CRMs call, as they see it (https://…); `/hooks/NAME` is added' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand listen" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand listen" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand listen" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand listen" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand listen" -l subscribe -d 'Create the Pipedrive webhooks for the public URL (and print HubSpot\'s app settings), then exit'
complete -c crmsync -n "__fish_crmsync_using_subcommand listen" -l unsubscribe -d 'Remove the Pipedrive webhooks `--subscribe` created for the public URL, then exit'
complete -c crmsync -n "__fish_crmsync_using_subcommand listen" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand listen" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand listen" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand listen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crmsync -n "__fish_crmsync_using_subcommand listen" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand status" -s c -l connection -d 'Only this connection' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand status" -l since -d 'The window of `--history`, as `30m`, `12h`, `7d` or `2w`' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand status" -l max-age -d 'With `--check`: the longest time since a connection\'s last successful sync' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand status" -l max-failed -d 'With `--check`: the most failed records a connection may have (default: not checked)' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand status" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand status" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand status" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand status" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand status" -l failed -d 'List failed records with the CRM\'s error'
complete -c crmsync -n "__fish_crmsync_using_subcommand status" -l history -d 'Per connection over a window: sync runs, failures, uptime, requests used'
complete -c crmsync -n "__fish_crmsync_using_subcommand status" -l check -d 'Exit 0 when healthy, else 5 (no successful sync within `--max-age`), 6 (more failed records than `--max-failed`) or 7 (the last sync failed), with one line saying why'
complete -c crmsync -n "__fish_crmsync_using_subcommand status" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand status" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand status" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand status" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand status" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and not __fish_seen_subcommand_from list check setup help" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and not __fish_seen_subcommand_from list check setup help" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and not __fish_seen_subcommand_from list check setup help" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and not __fish_seen_subcommand_from list check setup help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and not __fish_seen_subcommand_from list check setup help" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and not __fish_seen_subcommand_from list check setup help" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and not __fish_seen_subcommand_from list check setup help" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and not __fish_seen_subcommand_from list check setup help" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and not __fish_seen_subcommand_from list check setup help" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and not __fish_seen_subcommand_from list check setup help" -f -a "list" -d 'List the resolved mappings of a connection'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and not __fish_seen_subcommand_from list check setup help" -f -a "check" -d 'Check mappings against the CRM\'s field catalogue (missing fields, type mismatches)'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and not __fish_seen_subcommand_from list check setup help" -f -a "setup" -d 'Create the custom fields crmsync needs (`crmsync_id`, `crmsync_seed`) and mapped ones that are missing'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and not __fish_seen_subcommand_from list check setup help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from list" -s c -l connection -d 'The connection [default: the only one configured]' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from list" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from list" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from list" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from list" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from list" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from check" -s c -l connection -d 'The connection [default: the only one configured]' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from check" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from check" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from check" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from check" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from check" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from check" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from setup" -s c -l connection -d 'The connection [default: the only one configured]' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from setup" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from setup" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from setup" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from setup" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from setup" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from setup" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from setup" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from setup" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from setup" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the resolved mappings of a connection'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from help" -f -a "check" -d 'Check mappings against the CRM\'s field catalogue (missing fields, type mismatches)'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from help" -f -a "setup" -d 'Create the custom fields crmsync needs (`crmsync_id`, `crmsync_seed`) and mapped ones that are missing'
complete -c crmsync -n "__fish_crmsync_using_subcommand mappings; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and not __fish_seen_subcommand_from list show resolve help" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and not __fish_seen_subcommand_from list show resolve help" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and not __fish_seen_subcommand_from list show resolve help" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and not __fish_seen_subcommand_from list show resolve help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and not __fish_seen_subcommand_from list show resolve help" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and not __fish_seen_subcommand_from list show resolve help" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and not __fish_seen_subcommand_from list show resolve help" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and not __fish_seen_subcommand_from list show resolve help" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and not __fish_seen_subcommand_from list show resolve help" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and not __fish_seen_subcommand_from list show resolve help" -f -a "list" -d 'List open conflicts (the default)'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and not __fish_seen_subcommand_from list show resolve help" -f -a "show" -d 'Show one conflict with its base, local and remote values'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and not __fish_seen_subcommand_from list show resolve help" -f -a "resolve" -d 'Resolve conflicts; the next sync writes the chosen value'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and not __fish_seen_subcommand_from list show resolve help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from list" -s c -l connection -d 'Only this connection' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from list" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from list" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from list" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from list" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from list" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from show" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from show" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from show" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from show" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from show" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from resolve" -s c -l connection -d 'Only this connection (with `--all`)' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from resolve" -l take -d 'Take the local or the remote value' -r -f -a "local\t''
remote\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from resolve" -l value -d 'Set this value instead' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from resolve" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from resolve" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from resolve" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from resolve" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from resolve" -l all -d 'Resolve every open conflict (of `--connection`, if given)'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from resolve" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from resolve" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from resolve" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from resolve" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from resolve" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from help" -f -a "list" -d 'List open conflicts (the default)'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one conflict with its base, local and remote values'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from help" -f -a "resolve" -d 'Resolve conflicts; the next sync writes the chosen value'
complete -c crmsync -n "__fish_crmsync_using_subcommand conflicts; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c crmsync -n "__fish_crmsync_using_subcommand retry" -s c -l connection -d 'Only this connection' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand retry" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand retry" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand retry" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand retry" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand retry" -l parked -d 'Only the parked records (those later syncs no longer try on their own)'
complete -c crmsync -n "__fish_crmsync_using_subcommand retry" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand retry" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand retry" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand retry" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand retry" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and not __fish_seen_subcommand_from list show set archive restore help" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and not __fish_seen_subcommand_from list show set archive restore help" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and not __fish_seen_subcommand_from list show set archive restore help" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and not __fish_seen_subcommand_from list show set archive restore help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and not __fish_seen_subcommand_from list show set archive restore help" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and not __fish_seen_subcommand_from list show set archive restore help" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and not __fish_seen_subcommand_from list show set archive restore help" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and not __fish_seen_subcommand_from list show set archive restore help" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and not __fish_seen_subcommand_from list show set archive restore help" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and not __fish_seen_subcommand_from list show set archive restore help" -f -a "list" -d 'List local records, filtered'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and not __fish_seen_subcommand_from list show set archive restore help" -f -a "show" -d 'Show one local record: its fields, links with their sync state, and latest audit'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and not __fish_seen_subcommand_from list show set archive restore help" -f -a "set" -d 'Set fields of a local record; the next sync carries the edit to the CRMs'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and not __fish_seen_subcommand_from list show set archive restore help" -f -a "archive" -d 'Archive a local record; the next sync carries the archive to the CRMs'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and not __fish_seen_subcommand_from list show set archive restore help" -f -a "restore" -d 'Restore archived local records; the next sync carries the restore to the CRMs'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and not __fish_seen_subcommand_from list show set archive restore help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from list" -l object -d 'Only this object [default: all]' -r -f -a "company\t''
contact\t''
activity\t''
deal\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from list" -l where -d 'Only records the expression admits (the `create_when` rule language)' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from list" -l sync-state -d 'Only records in this sync state towards a connection (`--state` names the state file)' -r -f -a "synced\t''
pending\t''
error\t''
conflict\t''
local-only\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from list" -s c -l connection -d 'States towards this connection only' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from list" -l changed-since -d 'Only records changed since WHEN: an RFC 3339 time, or a span back from now (`2h`, `3d`)' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from list" -l limit -d 'At most N records' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from list" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from list" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from list" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from list" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from list" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from show" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from show" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from show" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from show" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from show" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from set" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from set" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from set" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from set" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from set" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from set" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from set" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from set" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from archive" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from archive" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from archive" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from archive" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from archive" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from archive" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from archive" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from archive" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from archive" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from restore" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from restore" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from restore" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from restore" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from restore" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from restore" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from restore" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from restore" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from restore" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from help" -f -a "list" -d 'List local records, filtered'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one local record: its fields, links with their sync state, and latest audit'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from help" -f -a "set" -d 'Set fields of a local record; the next sync carries the edit to the CRMs'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from help" -f -a "archive" -d 'Archive a local record; the next sync carries the archive to the CRMs'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from help" -f -a "restore" -d 'Restore archived local records; the next sync carries the restore to the CRMs'
complete -c crmsync -n "__fish_crmsync_using_subcommand records; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c crmsync -n "__fish_crmsync_using_subcommand log" -s n -l limit -d 'Show at most this many entries' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand log" -l record -d 'The audit trail of one record: a local id, an email, or CONNECTION:REMOTE-ID' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand log" -l field -d 'Only this field (with `--record`)' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand log" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand log" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand log" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand log" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand log" -l prune -d 'Remove runs and audit entries older than `log.keep_days` now (a sync run does it at its end)'
complete -c crmsync -n "__fish_crmsync_using_subcommand log" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand log" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand log" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand log" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand log" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand profiles" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand profiles" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand profiles" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand profiles" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand profiles" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand profiles" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand profiles" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand profiles" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand profiles" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand backup" -l to -d 'Write the copy here (a new file) instead of beside the state file' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand backup" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand backup" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand backup" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand backup" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand backup" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand backup" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand backup" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand backup" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand backup" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand restore" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand restore" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand restore" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand restore" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand restore" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand restore" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand restore" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand restore" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand restore" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand apply" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand apply" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand apply" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand apply" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand apply" -l force -d 'Go past the safety gates'
complete -c crmsync -n "__fish_crmsync_using_subcommand apply" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand apply" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand apply" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand apply" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crmsync -n "__fish_crmsync_using_subcommand apply" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand explain" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand explain" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand explain" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand explain" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand explain" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand explain" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand explain" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand explain" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand explain" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand teardown" -l tag -d 'The tag the records were imported with (`import --to C --tag TAG`)' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand teardown" -l to -d 'The connection whose CRM holds them' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand teardown" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand teardown" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand teardown" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand teardown" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand teardown" -l dry-run -d 'List the records that carry the tag; archive nothing'
complete -c crmsync -n "__fish_crmsync_using_subcommand teardown" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand teardown" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand teardown" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand teardown" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crmsync -n "__fish_crmsync_using_subcommand teardown" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and not __fish_seen_subcommand_from serve help" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and not __fish_seen_subcommand_from serve help" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and not __fish_seen_subcommand_from serve help" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and not __fish_seen_subcommand_from serve help" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and not __fish_seen_subcommand_from serve help" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and not __fish_seen_subcommand_from serve help" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and not __fish_seen_subcommand_from serve help" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and not __fish_seen_subcommand_from serve help" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and not __fish_seen_subcommand_from serve help" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and not __fish_seen_subcommand_from serve help" -f -a "serve" -d 'Serve a local HubSpot, a local Pipedrive and a local Salesforce until stopped; prints their base URLs and the tokens they accept'
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and not __fish_seen_subcommand_from serve help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from serve" -l port -d 'The port [default: a free one]' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from serve" -l token -d 'The private-app token to accept [default: a generated one]' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from serve" -l seed -d 'Seed for generated data and injected faults' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from serve" -l hub-id -d 'The portal id (Hub ID) the sandbox\'s account reports [default: 10000000 + the seed, so sandboxes with different seeds are different accounts]' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from serve" -l contacts -d 'Generate this many contacts at start' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from serve" -l companies -d 'Generate this many companies at start' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from serve" -l rate-limit -d 'Requests allowed per rate-limit window (HubSpot\'s is 100 per 10 s)' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from serve" -l rate-window-ms -d 'The rate-limit window in milliseconds' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from serve" -l pipedrive-port -d 'The Pipedrive sandbox\'s port [default: a free one]; it gets as many persons and organizations as HubSpot gets contacts and companies' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from serve" -l salesforce-port -d 'The Salesforce sandbox\'s port [default: a free one], its login host and instance at once; it gets as many contacts and accounts as HubSpot gets contacts and companies' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from serve" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from serve" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from serve" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from serve" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from serve" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from serve" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from serve" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from serve" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from serve" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from help" -f -a "serve" -d 'Serve a local HubSpot, a local Pipedrive and a local Salesforce until stopped; prints their base URLs and the tokens they accept'
complete -c crmsync -n "__fish_crmsync_using_subcommand sandbox; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c crmsync -n "__fish_crmsync_using_subcommand demo" -l contacts -d 'How many contacts to generate in HubSpot and in the local store (Pipedrive and Salesforce get a fifth as many each)' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand demo" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand demo" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand demo" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand demo" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand demo" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand demo" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand demo" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand demo" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c crmsync -n "__fish_crmsync_using_subcommand demo" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand completions" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand completions" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand completions" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand completions" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand completions" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand completions" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand completions" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand completions" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand completions" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand man" -l dir -d 'Write crmsync.1 and crmsync-COMMAND.1 pages into this directory' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand man" -l config -d 'Config file [default: the platform config dir\'s crmsync/config.toml]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand man" -l state -d 'SQLite state file [default: `state` in the config, else the platform data dir\'s crmsync/state.db]' -r -F
complete -c crmsync -n "__fish_crmsync_using_subcommand man" -l profile -d 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win' -r
complete -c crmsync -n "__fish_crmsync_using_subcommand man" -l color -d 'When to use colour' -r -f -a "auto\t''
always\t''
never\t''"
complete -c crmsync -n "__fish_crmsync_using_subcommand man" -l json -d 'Print machine-readable JSON on stdout'
complete -c crmsync -n "__fish_crmsync_using_subcommand man" -s q -l quiet -d 'Print less (repeat for even less)'
complete -c crmsync -n "__fish_crmsync_using_subcommand man" -s v -l verbose -d 'Print more (repeat for more)'
complete -c crmsync -n "__fish_crmsync_using_subcommand man" -s h -l help -d 'Print help'
complete -c crmsync -n "__fish_crmsync_using_subcommand man" -s V -l version -d 'Print version'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "connect" -d 'Sign in to a CRM and store its tokens in the OS keychain'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "disconnect" -d 'Revoke a connection\'s tokens where the CRM allows and remove them from the keychain'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "connections" -d 'List connections with their provider, account, token state and health; rename one, or forget its links'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "import" -d 'Load a CSV or JSONL file into the local store, or straight into a CRM'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "export" -d 'Write the local store\'s records as CSV or JSONL'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "sync" -d 'Two-way delta sync: pull from every connection, then push to every connection'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "listen" -d 'Real time: take HubSpot and Pipedrive webhooks and carry each change within seconds'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "status" -d 'Health per connection, last successful sync, and counts by record state'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "mappings" -d 'Field mappings: list them, check them against the CRM\'s fields, create missing fields'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "conflicts" -d 'List, show and resolve conflicts held by the `manual` policy'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "retry" -d 'Re-queue failed records so the next sync tries them again'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "records" -d 'Local records at hand: list, show, edit, archive and restore them'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "log" -d 'Past runs with counts and durations, or the audit trail of a record\'s field changes'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "profiles" -d 'List the profiles (config and state pairs chosen with `--profile`)'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "backup" -d 'Copy the state file (SQLite\'s online backup) to FILE, or into the set beside it'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "restore" -d 'Put a backup in place of the state file (the state file as it was is copied beside it first)'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "apply" -d 'Carry out a plan saved by `crmsync sync --plan FILE`'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "explain" -d 'Show a record\'s fields: base, local and remote values, direction, policy, last writer'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "teardown" -d 'Archive in a CRM exactly the records a tagged `import --to` created there'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "sandbox" -d 'Serve the built-in CRM sandboxes on 127.0.0.1'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "demo" -d 'Run the main job on the built-in sandboxes: sample data, two-way sync, conflicts, status'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "completions" -d 'Print shell completions for bash, zsh, fish, powershell or elvish'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "man" -d 'Print the man page, or write one page per command into a directory'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and not __fish_seen_subcommand_from connect disconnect connections import export sync listen status mappings conflicts retry records log profiles backup restore apply explain teardown sandbox demo completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and __fish_seen_subcommand_from connections" -f -a "rename" -d 'Rename a connection in the state file, keeping its links, cursors, failures and conflicts (then rename its table in the config, and give it its token under the new name)'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and __fish_seen_subcommand_from connections" -f -a "forget-links" -d 'Forget a connection\'s links, cursors, failures and the CRM account they belong to; local records stay, and the connection\'s next sync links them again by match keys, as a first sync does (for a connection pointed at another account)'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and __fish_seen_subcommand_from mappings" -f -a "list" -d 'List the resolved mappings of a connection'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and __fish_seen_subcommand_from mappings" -f -a "check" -d 'Check mappings against the CRM\'s field catalogue (missing fields, type mismatches)'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and __fish_seen_subcommand_from mappings" -f -a "setup" -d 'Create the custom fields crmsync needs (`crmsync_id`, `crmsync_seed`) and mapped ones that are missing'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and __fish_seen_subcommand_from conflicts" -f -a "list" -d 'List open conflicts (the default)'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and __fish_seen_subcommand_from conflicts" -f -a "show" -d 'Show one conflict with its base, local and remote values'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and __fish_seen_subcommand_from conflicts" -f -a "resolve" -d 'Resolve conflicts; the next sync writes the chosen value'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and __fish_seen_subcommand_from records" -f -a "list" -d 'List local records, filtered'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and __fish_seen_subcommand_from records" -f -a "show" -d 'Show one local record: its fields, links with their sync state, and latest audit'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and __fish_seen_subcommand_from records" -f -a "set" -d 'Set fields of a local record; the next sync carries the edit to the CRMs'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and __fish_seen_subcommand_from records" -f -a "archive" -d 'Archive a local record; the next sync carries the archive to the CRMs'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and __fish_seen_subcommand_from records" -f -a "restore" -d 'Restore archived local records; the next sync carries the restore to the CRMs'
complete -c crmsync -n "__fish_crmsync_using_subcommand help; and __fish_seen_subcommand_from sandbox" -f -a "serve" -d 'Serve a local HubSpot, a local Pipedrive and a local Salesforce until stopped; prints their base URLs and the tokens they accept'
