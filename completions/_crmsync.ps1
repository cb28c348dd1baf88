
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'crmsync' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'crmsync'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'crmsync' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Sign in to a CRM and store its tokens in the OS keychain')
            [CompletionResult]::new('disconnect', 'disconnect', [CompletionResultType]::ParameterValue, 'Revoke a connection''s tokens where the CRM allows and remove them from the keychain')
            [CompletionResult]::new('connections', 'connections', [CompletionResultType]::ParameterValue, 'List connections with their provider, account, token state and health; rename one, or forget its links')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Load a CSV or JSONL file into the local store, or straight into a CRM')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write the local store''s records as CSV or JSONL')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Two-way delta sync: pull from every connection, then push to every connection')
            [CompletionResult]::new('listen', 'listen', [CompletionResultType]::ParameterValue, 'Real time: take HubSpot and Pipedrive webhooks and carry each change within seconds')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Health per connection, last successful sync, and counts by record state')
            [CompletionResult]::new('mappings', 'mappings', [CompletionResultType]::ParameterValue, 'Field mappings: list them, check them against the CRM''s fields, create missing fields')
            [CompletionResult]::new('conflicts', 'conflicts', [CompletionResultType]::ParameterValue, 'List, show and resolve conflicts held by the `manual` policy')
            [CompletionResult]::new('retry', 'retry', [CompletionResultType]::ParameterValue, 'Re-queue failed records so the next sync tries them again')
            [CompletionResult]::new('records', 'records', [CompletionResultType]::ParameterValue, 'Local records at hand: list, show, edit, archive and restore them')
            [CompletionResult]::new('log', 'log', [CompletionResultType]::ParameterValue, 'Past runs with counts and durations, or the audit trail of a record''s field changes')
            [CompletionResult]::new('profiles', 'profiles', [CompletionResultType]::ParameterValue, 'List the profiles (config and state pairs chosen with `--profile`)')
            [CompletionResult]::new('backup', 'backup', [CompletionResultType]::ParameterValue, 'Copy the state file (SQLite''s online backup) to FILE, or into the set beside it')
            [CompletionResult]::new('restore', 'restore', [CompletionResultType]::ParameterValue, 'Put a backup in place of the state file (the state file as it was is copied beside it first)')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Carry out a plan saved by `crmsync sync --plan FILE`')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Show a record''s fields: base, local and remote values, direction, policy, last writer')
            [CompletionResult]::new('teardown', 'teardown', [CompletionResultType]::ParameterValue, 'Archive in a CRM exactly the records a tagged `import --to` created there')
            [CompletionResult]::new('sandbox', 'sandbox', [CompletionResultType]::ParameterValue, 'Serve the built-in CRM sandboxes on 127.0.0.1')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Run the main job on the built-in sandboxes: sample data, two-way sync, conflicts, status')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions for bash, zsh, fish, powershell or elvish')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page, or write one page per command into a directory')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'crmsync;connect' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The connection''s name [default: the provider''s name]')
            [CompletionResult]::new('--token-env', '--token-env', [CompletionResultType]::ParameterName, 'Take a private-app or API token from this environment variable instead of signing in')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up waiting for the browser after this many seconds')
            [CompletionResult]::new('--client-id', '--client-id', [CompletionResultType]::ParameterName, 'The OAuth app''s client id [default: `client_id` in the connection''s config]')
            [CompletionResult]::new('--base-url', '--base-url', [CompletionResultType]::ParameterName, 'The API base URL, to connect to a sandbox or emulator (written to the config)')
            [CompletionResult]::new('--login-url', '--login-url', [CompletionResultType]::ParameterName, 'Salesforce: sign in at this login host, such as the org''s My Domain URL')
            [CompletionResult]::new('--instance-url', '--instance-url', [CompletionResultType]::ParameterName, 'Salesforce: the org''s API host, for a token from `--token-env` (a sign-in names it)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--token-stdin', '--token-stdin', [CompletionResultType]::ParameterName, 'Read a private-app or API token from standard input instead of signing in')
            [CompletionResult]::new('--no-browser', '--no-browser', [CompletionResultType]::ParameterName, 'Print the sign-in URL instead of opening a browser')
            [CompletionResult]::new('--sandbox', '--sandbox', [CompletionResultType]::ParameterName, 'Salesforce: sign in to a sandbox org (at test.salesforce.com)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;disconnect' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;connections' {
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'The window of `--history`, as `30m`, `12h`, `7d` or `2w`')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Call each CRM to check the token, and keep what it says in the state file (else what was kept at sign-in and by the last check is shown)')
            [CompletionResult]::new('--history', '--history', [CompletionResultType]::ParameterName, 'Per connection over a window: sync runs, failures, uptime, requests used')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('rename', 'rename', [CompletionResultType]::ParameterValue, 'Rename a connection in the state file, keeping its links, cursors, failures and conflicts (then rename its table in the config, and give it its token under the new name)')
            [CompletionResult]::new('forget-links', 'forget-links', [CompletionResultType]::ParameterValue, 'Forget a connection''s links, cursors, failures and the CRM account they belong to; local records stay, and the connection''s next sync links them again by match keys, as a first sync does (for a connection pointed at another account)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'crmsync;connections;rename' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;connections;forget-links' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;connections;help' {
            [CompletionResult]::new('rename', 'rename', [CompletionResultType]::ParameterValue, 'Rename a connection in the state file, keeping its links, cursors, failures and conflicts (then rename its table in the config, and give it its token under the new name)')
            [CompletionResult]::new('forget-links', 'forget-links', [CompletionResultType]::ParameterValue, 'Forget a connection''s links, cursors, failures and the CRM account they belong to; local records stay, and the connection''s next sync links them again by match keys, as a first sync does (for a connection pointed at another account)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'crmsync;connections;help;rename' {
            break
        }
        'crmsync;connections;help;forget-links' {
            break
        }
        'crmsync;connections;help;help' {
            break
        }
        'crmsync;import' {
            [CompletionResult]::new('--object', '--object', [CompletionResultType]::ParameterName, 'What the rows are')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'The file''s format [default: from the extension]')
            [CompletionResult]::new('--map', '--map', [CompletionResultType]::ParameterName, 'Map a column to a field (`column=field`, `column=custom.name`, or `column=-` to drop it)')
            [CompletionResult]::new('--on-duplicate', '--on-duplicate', [CompletionResultType]::ParameterName, 'What to do with a row that matches an existing record [default: `import.on_duplicate`, else merge]')
            [CompletionResult]::new('--blank', '--blank', [CompletionResultType]::ParameterName, 'What an empty cell does to a record the row updates: `keep` its value, or `clear` it')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'After loading, sync these records to this connection (creates nothing twice)')
            [CompletionResult]::new('--tag', '--tag', [CompletionResultType]::ParameterName, 'Mark every record this import creates in the `--to` CRM with TAG (in its `crmsync_seed` field, made by `mappings setup`), for `crmsync teardown --tag TAG`')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--raw', '--raw', [CompletionResultType]::ParameterName, 'Read CSV values as they are: keep a `''` that `crmsync export` puts before a value a spreadsheet would run (`''=SUM(A1)`), instead of taking it off')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;export' {
            [CompletionResult]::new('--object', '--object', [CompletionResultType]::ParameterName, 'Which records')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'The format [default: from the output file''s extension, else csv]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write to this file instead of standard output')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write to this file instead of standard output')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--include-archived', '--include-archived', [CompletionResultType]::ParameterName, 'Include archived records')
            [CompletionResult]::new('--raw', '--raw', [CompletionResultType]::ParameterName, 'Write CSV values as they are, for programs; by default a value beginning with `=`, `+`, `-`, `@`, a tab or a carriage return gets a `''` before it, so that a spreadsheet shows it instead of running it (import takes the `''` off again)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;sync' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Only these connections [default: all]')
            [CompletionResult]::new('--connection', '--connection', [CompletionResultType]::ParameterName, 'Only these connections [default: all]')
            [CompletionResult]::new('--object', '--object', [CompletionResultType]::ParameterName, 'Only these objects [default: all]')
            [CompletionResult]::new('--plan', '--plan', [CompletionResultType]::ParameterName, 'Save the plan to FILE and stop; `crmsync apply FILE` carries it out')
            [CompletionResult]::new('--max-requests', '--max-requests', [CompletionResultType]::ParameterName, 'Send at most this many requests to each connection in this run')
            [CompletionResult]::new('--record', '--record', [CompletionResultType]::ParameterName, 'Only this record, read by id: a local id, email, domain or CONNECTION:REMOTE-ID (repeatable)')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Create at most N records on each side of each connection; later runs do the rest')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the plan and stop; nothing is written')
            [CompletionResult]::new('--full', '--full', [CompletionResultType]::ParameterName, 'Read everything from the CRMs instead of only what changed')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Go past the safety gates (mass archive, empty remote read)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;listen' {
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'The port to listen on')
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'The address to listen on (behind a reverse proxy or tunnel: 127.0.0.1)')
            [CompletionResult]::new('--public-url', '--public-url', [CompletionResultType]::ParameterName, 'The URL the CRMs call, as they see it (https://…); `/hooks/NAME` is added')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--subscribe', '--subscribe', [CompletionResultType]::ParameterName, 'Create the Pipedrive webhooks for the public URL (and print HubSpot''s app settings), then exit')
            [CompletionResult]::new('--unsubscribe', '--unsubscribe', [CompletionResultType]::ParameterName, 'Remove the Pipedrive webhooks `--subscribe` created for the public URL, then exit')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;status' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Only this connection')
            [CompletionResult]::new('--connection', '--connection', [CompletionResultType]::ParameterName, 'Only this connection')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'The window of `--history`, as `30m`, `12h`, `7d` or `2w`')
            [CompletionResult]::new('--max-age', '--max-age', [CompletionResultType]::ParameterName, 'With `--check`: the longest time since a connection''s last successful sync')
            [CompletionResult]::new('--max-failed', '--max-failed', [CompletionResultType]::ParameterName, 'With `--check`: the most failed records a connection may have (default: not checked)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--failed', '--failed', [CompletionResultType]::ParameterName, 'List failed records with the CRM''s error')
            [CompletionResult]::new('--history', '--history', [CompletionResultType]::ParameterName, 'Per connection over a window: sync runs, failures, uptime, requests used')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Exit 0 when healthy, else 5 (no successful sync within `--max-age`), 6 (more failed records than `--max-failed`) or 7 (the last sync failed), with one line saying why')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;mappings' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the resolved mappings of a connection')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check mappings against the CRM''s field catalogue (missing fields, type mismatches)')
            [CompletionResult]::new('setup', 'setup', [CompletionResultType]::ParameterValue, 'Create the custom fields crmsync needs (`crmsync_id`, `crmsync_seed`) and mapped ones that are missing')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'crmsync;mappings;list' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'The connection [default: the only one configured]')
            [CompletionResult]::new('--connection', '--connection', [CompletionResultType]::ParameterName, 'The connection [default: the only one configured]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;mappings;check' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'The connection [default: the only one configured]')
            [CompletionResult]::new('--connection', '--connection', [CompletionResultType]::ParameterName, 'The connection [default: the only one configured]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;mappings;setup' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'The connection [default: the only one configured]')
            [CompletionResult]::new('--connection', '--connection', [CompletionResultType]::ParameterName, 'The connection [default: the only one configured]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;mappings;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the resolved mappings of a connection')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check mappings against the CRM''s field catalogue (missing fields, type mismatches)')
            [CompletionResult]::new('setup', 'setup', [CompletionResultType]::ParameterValue, 'Create the custom fields crmsync needs (`crmsync_id`, `crmsync_seed`) and mapped ones that are missing')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'crmsync;mappings;help;list' {
            break
        }
        'crmsync;mappings;help;check' {
            break
        }
        'crmsync;mappings;help;setup' {
            break
        }
        'crmsync;mappings;help;help' {
            break
        }
        'crmsync;conflicts' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List open conflicts (the default)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one conflict with its base, local and remote values')
            [CompletionResult]::new('resolve', 'resolve', [CompletionResultType]::ParameterValue, 'Resolve conflicts; the next sync writes the chosen value')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'crmsync;conflicts;list' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Only this connection')
            [CompletionResult]::new('--connection', '--connection', [CompletionResultType]::ParameterName, 'Only this connection')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;conflicts;show' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;conflicts;resolve' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Only this connection (with `--all`)')
            [CompletionResult]::new('--connection', '--connection', [CompletionResultType]::ParameterName, 'Only this connection (with `--all`)')
            [CompletionResult]::new('--take', '--take', [CompletionResultType]::ParameterName, 'Take the local or the remote value')
            [CompletionResult]::new('--value', '--value', [CompletionResultType]::ParameterName, 'Set this value instead')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Resolve every open conflict (of `--connection`, if given)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;conflicts;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List open conflicts (the default)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one conflict with its base, local and remote values')
            [CompletionResult]::new('resolve', 'resolve', [CompletionResultType]::ParameterValue, 'Resolve conflicts; the next sync writes the chosen value')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'crmsync;conflicts;help;list' {
            break
        }
        'crmsync;conflicts;help;show' {
            break
        }
        'crmsync;conflicts;help;resolve' {
            break
        }
        'crmsync;conflicts;help;help' {
            break
        }
        'crmsync;retry' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Only this connection')
            [CompletionResult]::new('--connection', '--connection', [CompletionResultType]::ParameterName, 'Only this connection')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--parked', '--parked', [CompletionResultType]::ParameterName, 'Only the parked records (those later syncs no longer try on their own)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;records' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List local records, filtered')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one local record: its fields, links with their sync state, and latest audit')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set fields of a local record; the next sync carries the edit to the CRMs')
            [CompletionResult]::new('archive', 'archive', [CompletionResultType]::ParameterValue, 'Archive a local record; the next sync carries the archive to the CRMs')
            [CompletionResult]::new('restore', 'restore', [CompletionResultType]::ParameterValue, 'Restore archived local records; the next sync carries the restore to the CRMs')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'crmsync;records;list' {
            [CompletionResult]::new('--object', '--object', [CompletionResultType]::ParameterName, 'Only this object [default: all]')
            [CompletionResult]::new('--where', '--where', [CompletionResultType]::ParameterName, 'Only records the expression admits (the `create_when` rule language)')
            [CompletionResult]::new('--sync-state', '--sync-state', [CompletionResultType]::ParameterName, 'Only records in this sync state towards a connection (`--state` names the state file)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'States towards this connection only')
            [CompletionResult]::new('--connection', '--connection', [CompletionResultType]::ParameterName, 'States towards this connection only')
            [CompletionResult]::new('--changed-since', '--changed-since', [CompletionResultType]::ParameterName, 'Only records changed since WHEN: an RFC 3339 time, or a span back from now (`2h`, `3d`)')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'At most N records')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;records;show' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;records;set' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;records;archive' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;records;restore' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;records;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List local records, filtered')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one local record: its fields, links with their sync state, and latest audit')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set fields of a local record; the next sync carries the edit to the CRMs')
            [CompletionResult]::new('archive', 'archive', [CompletionResultType]::ParameterValue, 'Archive a local record; the next sync carries the archive to the CRMs')
            [CompletionResult]::new('restore', 'restore', [CompletionResultType]::ParameterValue, 'Restore archived local records; the next sync carries the restore to the CRMs')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'crmsync;records;help;list' {
            break
        }
        'crmsync;records;help;show' {
            break
        }
        'crmsync;records;help;set' {
            break
        }
        'crmsync;records;help;archive' {
            break
        }
        'crmsync;records;help;restore' {
            break
        }
        'crmsync;records;help;help' {
            break
        }
        'crmsync;log' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Show at most this many entries')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Show at most this many entries')
            [CompletionResult]::new('--record', '--record', [CompletionResultType]::ParameterName, 'The audit trail of one record: a local id, an email, or CONNECTION:REMOTE-ID')
            [CompletionResult]::new('--field', '--field', [CompletionResultType]::ParameterName, 'Only this field (with `--record`)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--prune', '--prune', [CompletionResultType]::ParameterName, 'Remove runs and audit entries older than `log.keep_days` now (a sync run does it at its end)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;profiles' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;backup' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Write the copy here (a new file) instead of beside the state file')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;restore' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;apply' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Go past the safety gates')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;explain' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;teardown' {
            [CompletionResult]::new('--tag', '--tag', [CompletionResultType]::ParameterName, 'The tag the records were imported with (`import --to C --tag TAG`)')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'The connection whose CRM holds them')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'List the records that carry the tag; archive nothing')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;sandbox' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve a local HubSpot, a local Pipedrive and a local Salesforce until stopped; prints their base URLs and the tokens they accept')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'crmsync;sandbox;serve' {
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'The port [default: a free one]')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'The private-app token to accept [default: a generated one]')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'Seed for generated data and injected faults')
            [CompletionResult]::new('--hub-id', '--hub-id', [CompletionResultType]::ParameterName, 'The portal id (Hub ID) the sandbox''s account reports [default: 10000000 + the seed, so sandboxes with different seeds are different accounts]')
            [CompletionResult]::new('--contacts', '--contacts', [CompletionResultType]::ParameterName, 'Generate this many contacts at start')
            [CompletionResult]::new('--companies', '--companies', [CompletionResultType]::ParameterName, 'Generate this many companies at start')
            [CompletionResult]::new('--rate-limit', '--rate-limit', [CompletionResultType]::ParameterName, 'Requests allowed per rate-limit window (HubSpot''s is 100 per 10 s)')
            [CompletionResult]::new('--rate-window-ms', '--rate-window-ms', [CompletionResultType]::ParameterName, 'The rate-limit window in milliseconds')
            [CompletionResult]::new('--pipedrive-port', '--pipedrive-port', [CompletionResultType]::ParameterName, 'The Pipedrive sandbox''s port [default: a free one]; it gets as many persons and organizations as HubSpot gets contacts and companies')
            [CompletionResult]::new('--salesforce-port', '--salesforce-port', [CompletionResultType]::ParameterName, 'The Salesforce sandbox''s port [default: a free one], its login host and instance at once; it gets as many contacts and accounts as HubSpot gets contacts and companies')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;sandbox;help' {
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve a local HubSpot, a local Pipedrive and a local Salesforce until stopped; prints their base URLs and the tokens they accept')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'crmsync;sandbox;help;serve' {
            break
        }
        'crmsync;sandbox;help;help' {
            break
        }
        'crmsync;demo' {
            [CompletionResult]::new('--contacts', '--contacts', [CompletionResultType]::ParameterName, 'How many contacts to generate in HubSpot and in the local store (Pipedrive and Salesforce get a fifth as many each)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;completions' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;man' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Write crmsync.1 and crmsync-COMMAND.1 pages into this directory')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: the platform config dir''s crmsync/config.toml]')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'SQLite state file [default: `state` in the config, else the platform data dir''s crmsync/state.db]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'A config and state pair of its own under the platform dirs (`crmsync profiles` lists them); `--config` and `--state` still win')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less (repeat for even less)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more (repeat for more)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'crmsync;help' {
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Sign in to a CRM and store its tokens in the OS keychain')
            [CompletionResult]::new('disconnect', 'disconnect', [CompletionResultType]::ParameterValue, 'Revoke a connection''s tokens where the CRM allows and remove them from the keychain')
            [CompletionResult]::new('connections', 'connections', [CompletionResultType]::ParameterValue, 'List connections with their provider, account, token state and health; rename one, or forget its links')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Load a CSV or JSONL file into the local store, or straight into a CRM')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write the local store''s records as CSV or JSONL')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Two-way delta sync: pull from every connection, then push to every connection')
            [CompletionResult]::new('listen', 'listen', [CompletionResultType]::ParameterValue, 'Real time: take HubSpot and Pipedrive webhooks and carry each change within seconds')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Health per connection, last successful sync, and counts by record state')
            [CompletionResult]::new('mappings', 'mappings', [CompletionResultType]::ParameterValue, 'Field mappings: list them, check them against the CRM''s fields, create missing fields')
            [CompletionResult]::new('conflicts', 'conflicts', [CompletionResultType]::ParameterValue, 'List, show and resolve conflicts held by the `manual` policy')
            [CompletionResult]::new('retry', 'retry', [CompletionResultType]::ParameterValue, 'Re-queue failed records so the next sync tries them again')
            [CompletionResult]::new('records', 'records', [CompletionResultType]::ParameterValue, 'Local records at hand: list, show, edit, archive and restore them')
            [CompletionResult]::new('log', 'log', [CompletionResultType]::ParameterValue, 'Past runs with counts and durations, or the audit trail of a record''s field changes')
            [CompletionResult]::new('profiles', 'profiles', [CompletionResultType]::ParameterValue, 'List the profiles (config and state pairs chosen with `--profile`)')
            [CompletionResult]::new('backup', 'backup', [CompletionResultType]::ParameterValue, 'Copy the state file (SQLite''s online backup) to FILE, or into the set beside it')
            [CompletionResult]::new('restore', 'restore', [CompletionResultType]::ParameterValue, 'Put a backup in place of the state file (the state file as it was is copied beside it first)')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Carry out a plan saved by `crmsync sync --plan FILE`')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Show a record''s fields: base, local and remote values, direction, policy, last writer')
            [CompletionResult]::new('teardown', 'teardown', [CompletionResultType]::ParameterValue, 'Archive in a CRM exactly the records a tagged `import --to` created there')
            [CompletionResult]::new('sandbox', 'sandbox', [CompletionResultType]::ParameterValue, 'Serve the built-in CRM sandboxes on 127.0.0.1')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Run the main job on the built-in sandboxes: sample data, two-way sync, conflicts, status')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions for bash, zsh, fish, powershell or elvish')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page, or write one page per command into a directory')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'crmsync;help;connect' {
            break
        }
        'crmsync;help;disconnect' {
            break
        }
        'crmsync;help;connections' {
            [CompletionResult]::new('rename', 'rename', [CompletionResultType]::ParameterValue, 'Rename a connection in the state file, keeping its links, cursors, failures and conflicts (then rename its table in the config, and give it its token under the new name)')
            [CompletionResult]::new('forget-links', 'forget-links', [CompletionResultType]::ParameterValue, 'Forget a connection''s links, cursors, failures and the CRM account they belong to; local records stay, and the connection''s next sync links them again by match keys, as a first sync does (for a connection pointed at another account)')
            break
        }
        'crmsync;help;connections;rename' {
            break
        }
        'crmsync;help;connections;forget-links' {
            break
        }
        'crmsync;help;import' {
            break
        }
        'crmsync;help;export' {
            break
        }
        'crmsync;help;sync' {
            break
        }
        'crmsync;help;listen' {
            break
        }
        'crmsync;help;status' {
            break
        }
        'crmsync;help;mappings' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the resolved mappings of a connection')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Check mappings against the CRM''s field catalogue (missing fields, type mismatches)')
            [CompletionResult]::new('setup', 'setup', [CompletionResultType]::ParameterValue, 'Create the custom fields crmsync needs (`crmsync_id`, `crmsync_seed`) and mapped ones that are missing')
            break
        }
        'crmsync;help;mappings;list' {
            break
        }
        'crmsync;help;mappings;check' {
            break
        }
        'crmsync;help;mappings;setup' {
            break
        }
        'crmsync;help;conflicts' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List open conflicts (the default)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one conflict with its base, local and remote values')
            [CompletionResult]::new('resolve', 'resolve', [CompletionResultType]::ParameterValue, 'Resolve conflicts; the next sync writes the chosen value')
            break
        }
        'crmsync;help;conflicts;list' {
            break
        }
        'crmsync;help;conflicts;show' {
            break
        }
        'crmsync;help;conflicts;resolve' {
            break
        }
        'crmsync;help;retry' {
            break
        }
        'crmsync;help;records' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List local records, filtered')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one local record: its fields, links with their sync state, and latest audit')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set fields of a local record; the next sync carries the edit to the CRMs')
            [CompletionResult]::new('archive', 'archive', [CompletionResultType]::ParameterValue, 'Archive a local record; the next sync carries the archive to the CRMs')
            [CompletionResult]::new('restore', 'restore', [CompletionResultType]::ParameterValue, 'Restore archived local records; the next sync carries the restore to the CRMs')
            break
        }
        'crmsync;help;records;list' {
            break
        }
        'crmsync;help;records;show' {
            break
        }
        'crmsync;help;records;set' {
            break
        }
        'crmsync;help;records;archive' {
            break
        }
        'crmsync;help;records;restore' {
            break
        }
        'crmsync;help;log' {
            break
        }
        'crmsync;help;profiles' {
            break
        }
        'crmsync;help;backup' {
            break
        }
        'crmsync;help;restore' {
            break
        }
        'crmsync;help;apply' {
            break
        }
        'crmsync;help;explain' {
            break
        }
        'crmsync;help;teardown' {
            break
        }
        'crmsync;help;sandbox' {
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve a local HubSpot, a local Pipedrive and a local Salesforce until stopped; prints their base URLs and the tokens they accept')
            break
        }
        'crmsync;help;sandbox;serve' {
            break
        }
        'crmsync;help;demo' {
            break
        }
        'crmsync;help;completions' {
            break
        }
        'crmsync;help;man' {
            break
        }
        'crmsync;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
