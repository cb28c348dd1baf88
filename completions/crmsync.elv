
use builtin;
use str;

set edit:completion:arg-completer[crmsync] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'crmsync'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'crmsync'= {
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand connect 'Sign in to a CRM and store its tokens in the OS keychain'
            cand disconnect 'Revoke a connection''s tokens where the CRM allows and remove them from the keychain'
            cand connections 'List connections with their provider, account, token state and health; rename one, or forget its links'
            cand import 'Load a CSV or JSONL file into the local store, or straight into a CRM'
            cand export 'Write the local store''s records as CSV or JSONL'
            cand sync 'Two-way delta sync: pull from every connection, then push to every connection'
            cand listen 'Real time: take HubSpot and Pipedrive webhooks and carry each change within seconds'
            cand status 'Health per connection, last successful sync, and counts by record state'
            cand mappings 'Field mappings: list them, check them against the CRM''s fields, create missing fields'
            cand conflicts 'List, show and resolve conflicts held by the `manual` policy'
            cand retry 'Re-queue failed records so the next sync tries them again'
            cand records 'Local records at hand: list, show, edit, archive and restore them'
            cand log 'Past runs with counts and durations, or the audit trail of a record''s field changes'
            cand profiles 'List the profiles (config and state pairs chosen with `--profile`)'
            cand backup 'Copy the state file (SQLite''s online backup) to FILE, or into the set beside it'
            cand restore 'Put a backup in place of the state file (the state file as it was is copied beside it first)'
            cand apply 'Carry out a plan saved by `crmsync sync --plan FILE`'
            cand explain 'Show a record''s fields: base, local and remote values, direction, policy, last writer'
            cand teardown 'Archive in a CRM exactly the records a tagged `import --to` created there'
            cand sandbox 'Serve the built-in CRM sandboxes on 127.0.0.1'
            cand demo 'Run the main job on the built-in sandboxes: sample data, two-way sync, conflicts, status'
            cand completions 'Print shell completions for bash, zsh, fish, powershell or elvish'
            cand man 'Print the man page, or write one page per command into a directory'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'crmsync;connect'= {
            cand --name 'The connection''s name [default: the provider''s name]'
            cand --token-env 'Take a private-app or API token from this environment variable instead of signing in'
            cand --timeout 'Give up waiting for the browser after this many seconds'
            cand --client-id 'The OAuth app''s client id [default: `client_id` in the connection''s config]'
            cand --base-url 'The API base URL, to connect to a sandbox or emulator (written to the config)'
            cand --login-url 'Salesforce: sign in at this login host, such as the org''s My Domain URL'
            cand --instance-url 'Salesforce: the org''s API host, for a token from `--token-env` (a sign-in names it)'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --token-stdin 'Read a private-app or API token from standard input instead of signing in'
            cand --no-browser 'Print the sign-in URL instead of opening a browser'
            cand --sandbox 'Salesforce: sign in to a sandbox org (at test.salesforce.com)'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;disconnect'= {
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;connections'= {
            cand --since 'The window of `--history`, as `30m`, `12h`, `7d` or `2w`'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --check 'Call each CRM to check the token, and keep what it says in the state file (else what was kept at sign-in and by the last check is shown)'
            cand --history 'Per connection over a window: sync runs, failures, uptime, requests used'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand rename 'Rename a connection in the state file, keeping its links, cursors, failures and conflicts (then rename its table in the config, and give it its token under the new name)'
            cand forget-links 'Forget a connection''s links, cursors, failures and the CRM account they belong to; local records stay, and the connection''s next sync links them again by match keys, as a first sync does (for a connection pointed at another account)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'crmsync;connections;rename'= {
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;connections;forget-links'= {
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;connections;help'= {
            cand rename 'Rename a connection in the state file, keeping its links, cursors, failures and conflicts (then rename its table in the config, and give it its token under the new name)'
            cand forget-links 'Forget a connection''s links, cursors, failures and the CRM account they belong to; local records stay, and the connection''s next sync links them again by match keys, as a first sync does (for a connection pointed at another account)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'crmsync;connections;help;rename'= {
        }
        &'crmsync;connections;help;forget-links'= {
        }
        &'crmsync;connections;help;help'= {
        }
        &'crmsync;import'= {
            cand --object 'What the rows are'
            cand --format 'The file''s format [default: from the extension]'
            cand --map 'Map a column to a field (`column=field`, `column=custom.name`, or `column=-` to drop it)'
            cand --on-duplicate 'What to do with a row that matches an existing record [default: `import.on_duplicate`, else merge]'
            cand --blank 'What an empty cell does to a record the row updates: `keep` its value, or `clear` it'
            cand --to 'After loading, sync these records to this connection (creates nothing twice)'
            cand --tag 'Mark every record this import creates in the `--to` CRM with TAG (in its `crmsync_seed` field, made by `mappings setup`), for `crmsync teardown --tag TAG`'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --raw 'Read CSV values as they are: keep a `''` that `crmsync export` puts before a value a spreadsheet would run (`''=SUM(A1)`), instead of taking it off'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;export'= {
            cand --object 'Which records'
            cand --format 'The format [default: from the output file''s extension, else csv]'
            cand -o 'Write to this file instead of standard output'
            cand --output 'Write to this file instead of standard output'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --include-archived 'Include archived records'
            cand --raw 'Write CSV values as they are, for programs; by default a value beginning with `=`, `+`, `-`, `@`, a tab or a carriage return gets a `''` before it, so that a spreadsheet shows it instead of running it (import takes the `''` off again)'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;sync'= {
            cand -c 'Only these connections [default: all]'
            cand --connection 'Only these connections [default: all]'
            cand --object 'Only these objects [default: all]'
            cand --plan 'Save the plan to FILE and stop; `crmsync apply FILE` carries it out'
            cand --max-requests 'Send at most this many requests to each connection in this run'
            cand --record 'Only this record, read by id: a local id, email, domain or CONNECTION:REMOTE-ID (repeatable)'
            cand --limit 'Create at most N records on each side of each connection; later runs do the rest'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --dry-run 'Print the plan and stop; nothing is written'
            cand --full 'Read everything from the CRMs instead of only what changed'
            cand --force 'Go past the safety gates (mass archive, empty remote read)'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;listen'= {
            cand --port 'The port to listen on'
            cand --bind 'The address to listen on (behind a reverse proxy or tunnel: 127.0.0.1)'
            cand --public-url 'The URL the CRMs call, as they see it (https://…); `/hooks/NAME` is added'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --subscribe 'Create the Pipedrive webhooks for the public URL (and print HubSpot''s app settings), then exit'
            cand --unsubscribe 'Remove the Pipedrive webhooks `--subscribe` created for the public URL, then exit'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;status'= {
            cand -c 'Only this connection'
            cand --connection 'Only this connection'
            cand --since 'The window of `--history`, as `30m`, `12h`, `7d` or `2w`'
            cand --max-age 'With `--check`: the longest time since a connection''s last successful sync'
            cand --max-failed 'With `--check`: the most failed records a connection may have (default: not checked)'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --failed 'List failed records with the CRM''s error'
            cand --history 'Per connection over a window: sync runs, failures, uptime, requests used'
            cand --check 'Exit 0 when healthy, else 5 (no successful sync within `--max-age`), 6 (more failed records than `--max-failed`) or 7 (the last sync failed), with one line saying why'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;mappings'= {
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List the resolved mappings of a connection'
            cand check 'Check mappings against the CRM''s field catalogue (missing fields, type mismatches)'
            cand setup 'Create the custom fields crmsync needs (`crmsync_id`, `crmsync_seed`) and mapped ones that are missing'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'crmsync;mappings;list'= {
            cand -c 'The connection [default: the only one configured]'
            cand --connection 'The connection [default: the only one configured]'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;mappings;check'= {
            cand -c 'The connection [default: the only one configured]'
            cand --connection 'The connection [default: the only one configured]'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;mappings;setup'= {
            cand -c 'The connection [default: the only one configured]'
            cand --connection 'The connection [default: the only one configured]'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;mappings;help'= {
            cand list 'List the resolved mappings of a connection'
            cand check 'Check mappings against the CRM''s field catalogue (missing fields, type mismatches)'
            cand setup 'Create the custom fields crmsync needs (`crmsync_id`, `crmsync_seed`) and mapped ones that are missing'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'crmsync;mappings;help;list'= {
        }
        &'crmsync;mappings;help;check'= {
        }
        &'crmsync;mappings;help;setup'= {
        }
        &'crmsync;mappings;help;help'= {
        }
        &'crmsync;conflicts'= {
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List open conflicts (the default)'
            cand show 'Show one conflict with its base, local and remote values'
            cand resolve 'Resolve conflicts; the next sync writes the chosen value'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'crmsync;conflicts;list'= {
            cand -c 'Only this connection'
            cand --connection 'Only this connection'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;conflicts;show'= {
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;conflicts;resolve'= {
            cand -c 'Only this connection (with `--all`)'
            cand --connection 'Only this connection (with `--all`)'
            cand --take 'Take the local or the remote value'
            cand --value 'Set this value instead'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --all 'Resolve every open conflict (of `--connection`, if given)'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;conflicts;help'= {
            cand list 'List open conflicts (the default)'
            cand show 'Show one conflict with its base, local and remote values'
            cand resolve 'Resolve conflicts; the next sync writes the chosen value'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'crmsync;conflicts;help;list'= {
        }
        &'crmsync;conflicts;help;show'= {
        }
        &'crmsync;conflicts;help;resolve'= {
        }
        &'crmsync;conflicts;help;help'= {
        }
        &'crmsync;retry'= {
            cand -c 'Only this connection'
            cand --connection 'Only this connection'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --parked 'Only the parked records (those later syncs no longer try on their own)'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;records'= {
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List local records, filtered'
            cand show 'Show one local record: its fields, links with their sync state, and latest audit'
            cand set 'Set fields of a local record; the next sync carries the edit to the CRMs'
            cand archive 'Archive a local record; the next sync carries the archive to the CRMs'
            cand restore 'Restore archived local records; the next sync carries the restore to the CRMs'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'crmsync;records;list'= {
            cand --object 'Only this object [default: all]'
            cand --where 'Only records the expression admits (the `create_when` rule language)'
            cand --sync-state 'Only records in this sync state towards a connection (`--state` names the state file)'
            cand -c 'States towards this connection only'
            cand --connection 'States towards this connection only'
            cand --changed-since 'Only records changed since WHEN: an RFC 3339 time, or a span back from now (`2h`, `3d`)'
            cand --limit 'At most N records'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;records;show'= {
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;records;set'= {
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;records;archive'= {
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;records;restore'= {
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;records;help'= {
            cand list 'List local records, filtered'
            cand show 'Show one local record: its fields, links with their sync state, and latest audit'
            cand set 'Set fields of a local record; the next sync carries the edit to the CRMs'
            cand archive 'Archive a local record; the next sync carries the archive to the CRMs'
            cand restore 'Restore archived local records; the next sync carries the restore to the CRMs'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'crmsync;records;help;list'= {
        }
        &'crmsync;records;help;show'= {
        }
        &'crmsync;records;help;set'= {
        }
        &'crmsync;records;help;archive'= {
        }
        &'crmsync;records;help;restore'= {
        }
        &'crmsync;records;help;help'= {
        }
        &'crmsync;log'= {
            cand -n 'Show at most this many entries'
            cand --limit 'Show at most this many entries'
            cand --record 'The audit trail of one record: a local id, an email, or CONNECTION:REMOTE-ID'
            cand --field 'Only this field (with `--record`)'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --prune 'Remove runs and audit entries older than `log.keep_days` now (a sync run does it at its end)'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;profiles'= {
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;backup'= {
            cand --to 'Write the copy here (a new file) instead of beside the state file'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;restore'= {
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;apply'= {
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --force 'Go past the safety gates'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;explain'= {
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;teardown'= {
            cand --tag 'The tag the records were imported with (`import --to C --tag TAG`)'
            cand --to 'The connection whose CRM holds them'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --dry-run 'List the records that carry the tag; archive nothing'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;sandbox'= {
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand serve 'Serve a local HubSpot, a local Pipedrive and a local Salesforce until stopped; prints their base URLs and the tokens they accept'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'crmsync;sandbox;serve'= {
            cand --port 'The port [default: a free one]'
            cand --token 'The private-app token to accept [default: a generated one]'
            cand --seed 'Seed for generated data and injected faults'
            cand --hub-id 'The portal id (Hub ID) the sandbox''s account reports [default: 10000000 + the seed, so sandboxes with different seeds are different accounts]'
            cand --contacts 'Generate this many contacts at start'
            cand --companies 'Generate this many companies at start'
            cand --rate-limit 'Requests allowed per rate-limit window (HubSpot''s is 100 per 10 s)'
            cand --rate-window-ms 'The rate-limit window in milliseconds'
            cand --pipedrive-port 'The Pipedrive sandbox''s port [default: a free one]; it gets as many persons and organizations as HubSpot gets contacts and companies'
            cand --salesforce-port 'The Salesforce sandbox''s port [default: a free one], its login host and instance at once; it gets as many contacts and accounts as HubSpot gets contacts and companies'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;sandbox;help'= {
            cand serve 'Serve a local HubSpot, a local Pipedrive and a local Salesforce until stopped; prints their base URLs and the tokens they accept'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'crmsync;sandbox;help;serve'= {
        }
        &'crmsync;sandbox;help;help'= {
        }
        &'crmsync;demo'= {
            cand --contacts 'How many contacts to generate in HubSpot and in the local store (Pipedrive and Salesforce get a fifth as many each)'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;completions'= {
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;man'= {
            cand --dir 'Write crmsync.1 and crmsync-COMMAND.1 pages into this directory'
            cand --config 'Config file [default: the platform config dir''s crmsync/config.toml]'
            cand --state 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]'
            cand --profile 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout'
            cand -q 'Print less (repeat for even less)'
            cand --quiet 'Print less (repeat for even less)'
            cand -v 'Print more (repeat for more)'
            cand --verbose 'Print more (repeat for more)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'crmsync;help'= {
            cand connect 'Sign in to a CRM and store its tokens in the OS keychain'
            cand disconnect 'Revoke a connection''s tokens where the CRM allows and remove them from the keychain'
            cand connections 'List connections with their provider, account, token state and health; rename one, or forget its links'
            cand import 'Load a CSV or JSONL file into the local store, or straight into a CRM'
            cand export 'Write the local store''s records as CSV or JSONL'
            cand sync 'Two-way delta sync: pull from every connection, then push to every connection'
            cand listen 'Real time: take HubSpot and Pipedrive webhooks and carry each change within seconds'
            cand status 'Health per connection, last successful sync, and counts by record state'
            cand mappings 'Field mappings: list them, check them against the CRM''s fields, create missing fields'
            cand conflicts 'List, show and resolve conflicts held by the `manual` policy'
            cand retry 'Re-queue failed records so the next sync tries them again'
            cand records 'Local records at hand: list, show, edit, archive and restore them'
            cand log 'Past runs with counts and durations, or the audit trail of a record''s field changes'
            cand profiles 'List the profiles (config and state pairs chosen with `--profile`)'
            cand backup 'Copy the state file (SQLite''s online backup) to FILE, or into the set beside it'
            cand restore 'Put a backup in place of the state file (the state file as it was is copied beside it first)'
            cand apply 'Carry out a plan saved by `crmsync sync --plan FILE`'
            cand explain 'Show a record''s fields: base, local and remote values, direction, policy, last writer'
            cand teardown 'Archive in a CRM exactly the records a tagged `import --to` created there'
            cand sandbox 'Serve the built-in CRM sandboxes on 127.0.0.1'
            cand demo 'Run the main job on the built-in sandboxes: sample data, two-way sync, conflicts, status'
            cand completions 'Print shell completions for bash, zsh, fish, powershell or elvish'
            cand man 'Print the man page, or write one page per command into a directory'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'crmsync;help;connect'= {
        }
        &'crmsync;help;disconnect'= {
        }
        &'crmsync;help;connections'= {
            cand rename 'Rename a connection in the state file, keeping its links, cursors, failures and conflicts (then rename its table in the config, and give it its token under the new name)'
            cand forget-links 'Forget a connection''s links, cursors, failures and the CRM account they belong to; local records stay, and the connection''s next sync links them again by match keys, as a first sync does (for a connection pointed at another account)'
        }
        &'crmsync;help;connections;rename'= {
        }
        &'crmsync;help;connections;forget-links'= {
        }
        &'crmsync;help;import'= {
        }
        &'crmsync;help;export'= {
        }
        &'crmsync;help;sync'= {
        }
        &'crmsync;help;listen'= {
        }
        &'crmsync;help;status'= {
        }
        &'crmsync;help;mappings'= {
            cand list 'List the resolved mappings of a connection'
            cand check 'Check mappings against the CRM''s field catalogue (missing fields, type mismatches)'
            cand setup 'Create the custom fields crmsync needs (`crmsync_id`, `crmsync_seed`) and mapped ones that are missing'
        }
        &'crmsync;help;mappings;list'= {
        }
        &'crmsync;help;mappings;check'= {
        }
        &'crmsync;help;mappings;setup'= {
        }
        &'crmsync;help;conflicts'= {
            cand list 'List open conflicts (the default)'
            cand show 'Show one conflict with its base, local and remote values'
            cand resolve 'Resolve conflicts; the next sync writes the chosen value'
        }
        &'crmsync;help;conflicts;list'= {
        }
        &'crmsync;help;conflicts;show'= {
        }
        &'crmsync;help;conflicts;resolve'= {
        }
        &'crmsync;help;retry'= {
        }
        &'crmsync;help;records'= {
            cand list 'List local records, filtered'
            cand show 'Show one local record: its fields, links with their sync state, and latest audit'
            cand set 'Set fields of a local record; the next sync carries the edit to the CRMs'
            cand archive 'Archive a local record; the next sync carries the archive to the CRMs'
            cand restore 'Restore archived local records; the next sync carries the restore to the CRMs'
        }
        &'crmsync;help;records;list'= {
        }
        &'crmsync;help;records;show'= {
        }
        &'crmsync;help;records;set'= {
        }
        &'crmsync;help;records;archive'= {
        }
        &'crmsync;help;records;restore'= {
        }
        &'crmsync;help;log'= {
        }
        &'crmsync;help;profiles'= {
        }
        &'crmsync;help;backup'= {
        }
        &'crmsync;help;restore'= {
        }
        &'crmsync;help;apply'= {
        }
        &'crmsync;help;explain'= {
        }
        &'crmsync;help;teardown'= {
        }
        &'crmsync;help;sandbox'= {
            cand serve 'Serve a local HubSpot, a local Pipedrive and a local Salesforce until stopped; prints their base URLs and the tokens they accept'
        }
        &'crmsync;help;sandbox;serve'= {
        }
        &'crmsync;help;demo'= {
        }
        &'crmsync;help;completions'= {
        }
        &'crmsync;help;man'= {
        }
        &'crmsync;help;help'= {
        }
    ]
    $completions[$command]
}
