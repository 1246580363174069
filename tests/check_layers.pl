#!/usr/bin/perl
# Reads the product's target graph (`cmake --graphviz` of a fresh configure, tests and
# benchmarks off) and fails on any link between Caravan's own targets that the architecture
# does not allow (docs/architecture.md, "Targets"), or on a forbidden reach through other
# targets (the server must never link the device engine, the model never the engine).
#   perl tests/check_layers.pl GRAPH.dot
#   perl tests/check_layers.pl --configure CMAKE SOURCE_DIR WORK_DIR   (makes the graph first)
use strict;
use warnings;
use File::Path qw(remove_tree);

my %allowed = (
    'caravan_storage'       => [],
    'caravan_model'         => [qw(caravan_storage)],
    'caravan_engine'        => [qw(caravan_model caravan_storage)],
    'caravan_exports'       => [qw(caravan_model caravan_storage)],
    'caravan_sync_protocol' => [qw(caravan_storage)],
    'caravan_sync_agent'    => [qw(caravan_sync_protocol caravan_engine)],
    'caravan_sync_server'   => [qw(caravan_sync_protocol caravan_model caravan_exports caravan_storage)],
    'caravan_cli_exports'   => [qw(caravan_exports)],
    'caravan_web'           => [qw(caravan_model caravan_storage)],
    'caravan_ui'            => [qw(caravan_web caravan_engine caravan_exports caravan_model caravan_sync_agent)],
    'caravan_dashboard'     => [qw(caravan_web caravan_sync_server caravan_model)],
    'caravan_cli'           => [qw(caravan_engine caravan_exports caravan_sync_agent caravan_cli_exports caravan_ui)],
    'caravan'               => [qw(caravan_cli)],
    'caravan_server_cli'    => [qw(caravan_sync_server caravan_cli_exports)],
    'caravan-server'        => [qw(caravan_server_cli caravan_dashboard)],
);
# Never reachable, directly or through anything: what each side must not drag in.
my %forbidden = (
    'caravan_model'       => [qw(caravan_engine caravan_exports caravan_sync_protocol)],
    'caravan_exports'     => [qw(caravan_engine)],
    'caravan_engine'      => [qw(caravan_exports caravan_sync_protocol)],
    'caravan_sync_server' => [qw(caravan_engine caravan_sync_agent caravan_cli caravan_web caravan_dashboard)],
    'caravan_server_cli'  => [qw(caravan_engine caravan_sync_agent caravan_cli caravan_web caravan_dashboard)],
    'caravan-server'      => [qw(caravan_engine caravan_sync_agent caravan_cli)],
    'caravan_sync_agent'  => [qw(caravan_sync_server caravan_exports)],
    'caravan_ui'          => [qw(caravan_sync_server caravan_cli caravan_dashboard)],
    'caravan_web'         => [qw(caravan_engine caravan_exports caravan_sync_protocol caravan_sync_agent caravan_sync_server caravan_ui caravan_dashboard)],
    'caravan_dashboard'   => [qw(caravan_engine caravan_sync_agent caravan_cli caravan_ui)],
);

my $file;
if (@ARGV == 4 && $ARGV[0] eq '--configure') {
    my (undef, $cmake, $source, $work) = @ARGV;
    remove_tree($work);
    system($cmake, '-S', $source, '-B', $work, '-G', 'Ninja', '-DCARAVAN_TESTS=OFF',
           '-DCARAVAN_BENCH=OFF', "--graphviz=$work/graph.dot") == 0
        or die "configuring $source into $work failed\n";
    $file = "$work/graph.dot";
} else {
    $file = shift or die "usage: $0 GRAPH.dot | --configure CMAKE SOURCE_DIR WORK_DIR\n";
}
open my $in, '<', $file or die "cannot read $file: $!\n";
my (%label, %edges);
while (<$in>) {
    $label{$1} = $2 if /^\s*"(node\d+)"\s*\[\s*label\s*=\s*"([^"]+)"/;
    push @{ $edges{$1} }, $2 if /^\s*"(node\d+)"\s*->\s*"(node\d+)"/;
}
close $in;
my %deps;
for my $from (keys %edges) {
    $deps{ $label{$from} }{ $label{$_} } = 1 for @{ $edges{$from} };
}
my $ours = qr/^caravan(?:[-_]|$)/;
my @bad;
my $checked = 0;
for my $from (sort keys %deps) {
    next unless $from =~ $ours && $from ne 'caravan_warnings';
    unless (exists $allowed{$from}) {
        push @bad, "target $from is not in the architecture's graph";
        next;
    }
    my %ok = map { $_ => 1 } @{ $allowed{$from} };
    for my $to (sort keys %{ $deps{$from} }) {
        next unless $to =~ $ours && $to ne 'caravan_warnings';
        $checked++;
        push @bad, "$from -> $to is not an allowed edge" unless $ok{$to};
    }
}
for my $t (keys %allowed) {
    push @bad, "target $t is missing from the graph" unless exists $label{ (grep { $label{$_} eq $t } keys %label)[0] // '' };
}
for my $from (sort keys %forbidden) {
    my %seen;
    my @stack = ($from);
    while (@stack) {
        my $n = pop @stack;
        next if $seen{$n}++;
        push @stack, keys %{ $deps{$n} // {} };
    }
    for my $to (@{ $forbidden{$from} }) {
        push @bad, "$from reaches $to" if $seen{$to};
    }
}
if (@bad) {
    print "layer violation: $_\n" for @bad;
    exit 1;
}
print "layers hold: $checked edges between Caravan targets checked\n";
