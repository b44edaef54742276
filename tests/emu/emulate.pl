#!/usr/bin/perl
# Rewrites a CUDA source for the CPU emulation (cuda_emu.h): perl emulate.pl IN.cu OUT.cpp
#   k<<<grid, block[, shmem[, stream]]>>>(args)  ->
#       ::dpt::emu::launch_with([](auto... a) { k(a...); }, grid, block[, ...])(args)
#   extern __shared__ T name[];                  ->  T* name = ::dpt::emu::dynamic_shared_as<T>();
#   __shared__ T name[...];                      ->  the same array, static thread_local (one per
#                                                    block: blocks run one at a time on one thread),
#                                                    NaN-filled at each block's start
# Everything else is left as it is; #line keeps compiler messages on the original file and lines.
use strict;
use warnings;

my ($in, $out) = @ARGV;
die "usage: emulate.pl IN.cu OUT.cpp\n" unless defined $out;
open(my $fh, '<', $in) or die "emulate.pl: cannot read $in: $!\n";
local $/;
my $src = <$fh>;
close $fh;

my $launches = () = $src =~ /<<</g;
$src =~ s/([A-Za-z_][\w:]*(?:<[^<>;]*>)?)(\s*)<<<([^;]*?)>>>/::dpt::emu::launch_with([](auto... dpt_a) { $1(dpt_a...); },$2 $3)/g;
my $left = () = $src =~ /<<<|>>>/g;
die "emulate.pl: $in: $left launch brackets left unrewritten\n" if $left;
$src =~ s/extern\s+__shared__\s+(\w+)\s+(\w+)\s*\[\s*\]\s*;/$1* $2 = ::dpt::emu::dynamic_shared_as<$1>();/g;
$src =~ s/__shared__\s+(\w+)\s+(\w+)(\s*\[[^;]*\])\s*;/static thread_local $1 $2$3; ::dpt::emu::poison_shared($2, sizeof($2));/g;

open(my $oh, '>', $out) or die "emulate.pl: cannot write $out: $!\n";
print $oh "#line 1 \"$in\"\n", $src;
close $oh;
