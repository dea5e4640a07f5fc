# Confines @INC to the layer: loaded with -M by /opt/bin/exiftool before ExifTool is compiled, it drops
# the interpreter's built-in host paths (/usr/share/perl/..., /etc/perl, ...) and anything from PERL5LIB,
# so the layer's Perl can only load the modules the layer ships. Loads no other module.
package ExifToolLayerINC;
my $dir = __FILE__;
$dir =~ s{/[^/]*\z}{};
@INC = ($dir);
1;
